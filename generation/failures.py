"""Why a take failed, in a sentence a filmmaker understands; the full story stays for the admin.

People never see exception class names, server paths or constraint names: `explain` gives the
sentence stored in `Take.error`, `detail` the type, message and traceback stored in
`Take.error_detail` (shown only in the Django admin). No torch import: an exception is told
apart by its type's name and its message, so the web process may import this module too.
"""

import errno
import re
import traceback

from .pipelines.spec import ModelLoadError

OUT_OF_MEMORY = "The model ran out of memory. Try a smaller frame or fewer frames."
STORAGE_FULL = "The studio's storage is full; nothing was saved."
MODEL_UNAVAILABLE = (
    "The model could not be loaded. An administrator should check the model registry."
)
VIDEO_ENCODING = "The video could not be encoded."
UNKNOWN = "Something went wrong while generating this take. The studio has logged the details."
SOURCE_MISSING = {
    "image": "The source take's image is missing.",
    "mask": "The inpaint mask is missing.",
}
SOURCE_UNREADABLE = {
    "image": "The source take's image could not be read.",
    "mask": "The inpaint mask could not be read.",
}

# torch.OutOfMemoryError (CUDA), "MPS backend out of memory", the CPU allocator's refusal.
_OUT_OF_MEMORY = re.compile(r"out of memory|can't allocate memory", re.IGNORECASE)
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class SourceMissing(Exception):
    """The worker found no file behind a take's source picture (`part`: "image" or "mask")."""

    def __init__(self, part: str):
        super().__init__(f"source {part} missing")
        self.part = part


class SourceUnreadable(Exception):
    """The worker found a source picture's file but could not decode it."""

    def __init__(self, part: str):
        super().__init__(f"source {part} unreadable")
        self.part = part


class EncodeFailed(Exception):
    """ffmpeg could not turn the frames into an MP4 (it fails in many shapes: IOError with its
    stderr, RuntimeError when missing, BrokenPipeError), so the worker raises this from it."""


def explain(error: BaseException) -> str:
    """The sentence for a failed take. Running out of memory or disk explains everything it
    caused (a model load that ran out of memory is a memory problem, not a registry problem);
    otherwise the outermost exception the studio knows speaks."""
    chain = _chain(error)
    if any(_out_of_memory(e) for e in chain):
        return OUT_OF_MEMORY
    if any(isinstance(e, OSError) and e.errno in _DISK_FULL for e in chain):
        return STORAGE_FULL
    for e in chain:
        if sentence := _known(e):
            return sentence
    return UNKNOWN


def detail(error: BaseException) -> str:
    """Type, message and traceback, causes included: what an administrator needs."""
    return "".join(traceback.format_exception(error)).strip()


def _known(error: BaseException) -> str | None:
    if isinstance(error, SourceMissing):
        return SOURCE_MISSING[error.part]
    if isinstance(error, SourceUnreadable):
        return SOURCE_UNREADABLE[error.part]
    if type(error).__name__ == "UnidentifiedImageError":  # Pillow's; only sources are opened
        return SOURCE_UNREADABLE["image"]
    if isinstance(error, ModelLoadError):
        return MODEL_UNAVAILABLE
    # PipelineHost._entry: the worker's registry lacks a model the web process accepted.
    if isinstance(error, KeyError) and "unknown model" in str(error):
        return MODEL_UNAVAILABLE
    if isinstance(error, EncodeFailed):
        return VIDEO_ENCODING
    return None


def _out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    return isinstance(error, RuntimeError) and bool(_OUT_OF_MEMORY.search(str(error)))


def _chain(error: BaseException) -> list[BaseException]:
    """The error, then what caused it (`raise ... from`, or raised while handling), outermost first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain
