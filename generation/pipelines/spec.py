"""What a render asks for and what it gives back.

Plain dataclasses with no torch import: the web process builds and checks these too, and it must
never pay for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

TOOLS = ("text2image", "variation", "inpaint", "upscale", "video")
# Tools that start from a picture the user already has.
TOOLS_WITH_INIT_IMAGE = ("variation", "inpaint", "upscale")


@dataclass
class Shot:
    """One output of a (possibly batched) render: its own prompt, seed and source pictures."""

    prompt: str
    seed: int
    negative_prompt: str = ""
    init_image: Image | None = None  # variation / inpaint / upscale source
    mask_image: Image | None = None  # inpaint: white = repaint, black = keep (L mode)


@dataclass
class RenderRequest:
    model: str  # registry key
    tool: str  # one of TOOLS
    shots: list[Shot]
    width: int  # output size, except for upscale where it is the input size
    height: int
    steps: int
    guidance: float
    strength: float = 0.6  # variation / inpaint: how much of the init image to repaint
    num_frames: int = 8  # video
    fps: int = 8  # video; the pipeline ignores it, the encoder uses it


@dataclass
class Rendered:
    image: Image | None = None  # image tools
    frames: list[Image] | None = None  # video


class RenderInterrupted(Exception):
    """should_stop() said yes: sampling stopped early and nothing was decoded."""


class ModelLoadError(RuntimeError):
    """A registry entry's weights could not be loaded (missing directory, offline hub, bad file)."""


def check_request(request: RenderRequest, entry: dict) -> None:
    """Raise ValueError naming the first thing wrong with a request for this registry entry.

    Cheap and torch-free, so the web process can refuse bad input before queueing it. The entry's
    "limits" must hold min_size, max_size, max_steps, max_batch (and max_frames for video).
    """
    limits = entry["limits"]
    if request.tool not in entry["tools"]:
        raise ValueError(f"model {request.model!r} does not offer tool {request.tool!r}")
    _check_range("shots per render", len(request.shots), 1, limits["max_batch"])
    # The UNet halves the latents two or three times and the VAE shrinks them first: sides on
    # an 8 px grid keep every level exact instead of failing deep inside the pipeline.
    if request.width % 8 or request.height % 8:
        raise ValueError(
            f"width and height must be multiples of 8, got {request.width}x{request.height}"
        )
    _check_range("width", request.width, limits["min_size"], limits["max_size"])
    _check_range("height", request.height, limits["min_size"], limits["max_size"])
    _check_range("steps", request.steps, 1, limits["max_steps"])
    if request.tool in ("variation", "inpaint"):
        if not 0 < request.strength <= 1:
            raise ValueError(f"strength must be above 0 and at most 1, got {request.strength}")
        if int(request.steps * request.strength) < 1:
            raise ValueError("steps x strength is below one step: raise steps or strength")
    if request.tool in TOOLS_WITH_INIT_IMAGE and any(s.init_image is None for s in request.shots):
        raise ValueError(f"tool {request.tool!r} needs an init image on every shot")
    if request.tool == "inpaint" and any(s.mask_image is None for s in request.shots):
        raise ValueError("inpaint needs a mask image on every shot")
    if request.tool == "video":
        _check_range("num_frames", request.num_frames, 1, limits["max_frames"])


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
