"""PipelineHost: keeps models warm in one worker process and runs renders on them.

One copy of each model's weights: the base pipeline is loaded once with `from_pretrained`, and the
variation, inpaint and video pipelines are made from it with `from_pipe`, which shares its modules.
Not thread-safe: a worker runs one render at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from diffusers import (
    AnimateDiffPipeline,
    DiffusionPipeline,
    MotionAdapter,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionUpscalePipeline,
)
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from .builders import builtin_name, ensure_builtin
from .inpaint import run_inpaint
from .preview import latents_to_jpegs, preview_size
from .spec import ModelLoadError, Rendered, RenderInterrupted, RenderRequest, check_request
from .text_to_image import run_text_to_image
from .upscale import run_upscale
from .variation import run_variation
from .video import run_video

OnStep = Callable[[int, int, "list[bytes] | None"], None]

# The pipeline class per registry kind, and what it loads without. Slate's renders are previs for
# its own team: no NSFW checker (a second model that blacks out frames) even where a repo ships one.
PIPELINE_CLASSES = {
    "stable-diffusion": (
        StableDiffusionPipeline,
        {"safety_checker": None, "requires_safety_checker": False},
    ),
    "upscale": (StableDiffusionUpscalePipeline, {"safety_checker": None}),
}
DERIVED_PIPELINE_CLASSES = {
    "variation": StableDiffusionImg2ImgPipeline,
    "inpaint": StableDiffusionInpaintPipeline,
}
RUNNERS = {
    "text2image": run_text_to_image,
    "variation": run_variation,
    "inpaint": run_inpaint,
    "upscale": run_upscale,
    "video": run_video,
}


def pick_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class PipelineHost:
    def __init__(self, models: dict, cache_dir: str | Path, device: str | None = None):
        self.models = models
        self.cache_dir = Path(cache_dir)
        self.device = device or pick_device()
        # Half precision halves memory and time on CUDA; CPU and MPS kernels want float32.
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self._bases: dict[str, DiffusionPipeline] = {}
        self._motion_adapters: dict[str, MotionAdapter] = {}
        self._tool_pipes: dict[tuple[str, str], DiffusionPipeline] = {}
        # A worker's log is read line by line: loading bars only clutter it.
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()

    def load(self, model_key: str) -> float:
        """Make a model warm. Returns the seconds spent loading: 0.0 when it already was."""
        entry = self._entry(model_key)
        if model_key in self._bases:
            return 0.0
        started = time.perf_counter()
        pipe_class, without = PIPELINE_CLASSES[entry["kind"]]
        pipe = self._from_pretrained(
            pipe_class, model_key, entry["source"], entry.get("revision"), **without
        )
        pipe.set_progress_bar_config(disable=True)
        if "video" in entry.get("tools", ()):
            # Loaded with the model, so a missing adapter fails the load and not a later render.
            self._motion_adapters[model_key] = self._from_pretrained(
                MotionAdapter,
                model_key,
                entry["motion_adapter"],
                entry.get("motion_adapter_revision"),
            )
        self._bases[model_key] = pipe
        return time.perf_counter() - started

    def render(
        self,
        request: RenderRequest,
        *,
        on_step: OnStep | None = None,
        should_stop: Callable[[], bool] | None = None,
        preview_every: int = 2,
    ) -> list[Rendered]:
        """All shots of the request in one pipeline call; one Rendered per shot, in order.

        Raises RenderInterrupted when should_stop() turns true, ValueError for a bad request.
        """
        entry = self._entry(request.model)
        check_request(request, entry)
        self.load(request.model)
        pipe = self._pipe_for(request.model, request.tool)
        scale = entry.get("scale", 1) if request.tool == "upscale" else 1
        reporter = StepReporter(
            on_step=on_step,
            should_stop=should_stop,
            preview_every=preview_every if entry.get("preview") == "linear" else 0,
            preview_size=preview_size(request.width * scale, request.height * scale),
        )
        with torch.inference_mode():
            return RUNNERS[request.tool](pipe, request, on_step_end=reporter)

    def _entry(self, model_key: str) -> dict:
        try:
            return self.models[model_key]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise KeyError(f"unknown model {model_key!r}; the registry has: {known}") from None

    def _from_pretrained(
        self, model_class, model_key: str, source: str, revision: str | None, **extra
    ):
        """Load a hub id or a directory; a builtin is first built into the cache, then loaded."""
        try:
            name = builtin_name(source)
            location = ensure_builtin(name, self.cache_dir, self.dtype) if name else source
            model = model_class.from_pretrained(
                location, revision=revision, dtype=self.dtype, **extra
            )
        except Exception as exc:
            # Whatever failed (missing files, offline hub, bad config), say which model and source.
            raise ModelLoadError(f"model {model_key!r}: cannot load {source!r}: {exc}") from exc
        return model.to(self.device)

    def _pipe_for(self, model_key: str, tool: str) -> DiffusionPipeline:
        base = self._bases[model_key]
        if tool in ("text2image", "upscale"):
            return base
        if (model_key, tool) not in self._tool_pipes:
            self._tool_pipes[model_key, tool] = self._derive(base, model_key, tool)
        return self._tool_pipes[model_key, tool]

    def _derive(self, base: DiffusionPipeline, model_key: str, tool: str) -> DiffusionPipeline:
        """The tool's pipeline made from the base one with from_pipe, sharing its modules."""
        # from_pipe casts every module to `dtype`, float32 unless told: without it, deriving a
        # pipeline on CUDA would turn the shared half-precision weights to float32.
        with _quiet_diffusers():
            if tool == "video":
                # AnimateDiff wraps the UNet in a new UNetMotionModel, built with copies of the
                # UNet's weights: point them back at the base's, so one copy stays in memory.
                adapter = self._motion_adapters[model_key]
                pipe = AnimateDiffPipeline.from_pipe(base, motion_adapter=adapter, dtype=self.dtype)
                pipe.to(self.device)
                _share_weights(source=base.unet, target=pipe.unet)
            else:
                pipe = DERIVED_PIPELINE_CLASSES[tool].from_pipe(base, dtype=self.dtype)
        pipe.set_progress_bar_config(disable=True)  # from_pipe does not inherit it
        return pipe


def _share_weights(*, source: torch.nn.Module, target: torch.nn.Module) -> int:
    """Make target's tensors that have a same-named, same-shaped tensor in source use source's
    storage. Returns how many were tied."""
    originals = dict(source.named_parameters()) | dict(source.named_buffers())
    tied = 0
    for name, tensor in [*target.named_parameters(), *target.named_buffers()]:
        original = originals.get(name)
        if (
            original is not None
            and original.shape == tensor.shape
            and original.dtype == tensor.dtype
        ):
            tensor.data = original.data
            tied += 1
    return tied


@contextmanager
def _quiet_diffusers() -> Iterator[None]:
    """Hide warnings while deriving pipelines.

    from_pipe casts with `.to(dtype=...)`, and diffusers 0.42 then warns on every module that
    "modules that should be kept in float32: []" exist, an empty list.
    """
    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(verbosity)


class StepReporter:
    """The per-step callback (diffusers' callback_on_step_end shape): progress, previews, stop."""

    def __init__(self, *, on_step, should_stop, preview_every: int, preview_size: tuple[int, int]):
        self.on_step = on_step
        self.should_stop = should_stop
        self.preview_every = preview_every
        self.preview_size = preview_size

    def __call__(
        self, pipe: DiffusionPipeline, index: int, timestep, callback_kwargs: dict
    ) -> dict:
        step = index + 1
        if self.on_step is not None:
            wants_preview = self.preview_every > 0 and step % self.preview_every == 0
            previews = (
                latents_to_jpegs(callback_kwargs["latents"], self.preview_size)
                if wants_preview
                else None
            )
            self.on_step(step, total_steps(pipe), previews)
        if self.should_stop is not None and self.should_stop():
            # The flag is diffusers' own stop; raising as well skips the VAE decode it still runs.
            pipe._interrupt = True
            raise RenderInterrupted(f"stopped after step {step} of {total_steps(pipe)}")
        return callback_kwargs


def total_steps(pipe: DiffusionPipeline) -> int:
    """Steps this call really runs: image-to-image and inpaint skip the start of the schedule."""
    # The upscale pipeline does not record _num_timesteps; it always runs the whole schedule.
    return getattr(pipe, "_num_timesteps", None) or len(pipe.scheduler.timesteps)
