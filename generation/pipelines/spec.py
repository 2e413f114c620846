"""What a render asks for and what it gives back.

Plain dataclasses with no torch import: the web process builds and checks these too, and it must
never pay for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    frames: list[Image] | None = field(default=None)  # video


class RenderInterrupted(Exception):
    """should_stop() said yes: sampling stopped early and nothing was decoded."""


class ModelLoadError(RuntimeError):
    """A registry entry's weights could not be loaded (missing directory, offline hub, bad file)."""


def check_request(request: RenderRequest, entry: dict) -> None:
    """Raise ValueError naming the first thing wrong with a request for this registry entry.

    Cheap and torch-free, so the web process can refuse bad input before queueing it.
    """
    limits = entry.get("limits", {})
    if request.tool not in entry.get("tools", ()):
        raise ValueError(f"model {request.model!r} does not offer tool {request.tool!r}")
    if not request.shots:
        raise ValueError("a render needs at least one shot")
    if len(request.shots) > limits.get("max_batch", len(request.shots)):
        raise ValueError(f"at most {limits['max_batch']} shots per render")
    for side in (request.width, request.height):
        # The UNet halves the latent several times and the VAE shrinks it again: 8 keeps both exact.
        if side % 8:
            raise ValueError(
                f"width and height must be multiples of 8, got {request.width}x{request.height}"
            )
        if not limits.get("min_size", side) <= side <= limits.get("max_size", side):
            raise ValueError(
                f"size must be between {limits['min_size']} and {limits['max_size']} px"
            )
    if not 1 <= request.steps <= limits.get("max_steps", request.steps):
        raise ValueError(f"steps must be between 1 and {limits.get('max_steps', request.steps)}")
    if request.tool in ("variation", "inpaint"):
        if not 0 < request.strength <= 1:
            raise ValueError("strength must be in (0, 1]")
        if int(request.steps * request.strength) < 1:
            raise ValueError("steps x strength is below one step: raise steps or strength")
    if request.tool in TOOLS_WITH_INIT_IMAGE and any(s.init_image is None for s in request.shots):
        raise ValueError(f"tool {request.tool!r} needs an init image on every shot")
    if request.tool == "inpaint" and any(s.mask_image is None for s in request.shots):
        raise ValueError("inpaint needs a mask image on every shot")
    if request.tool == "video" and not 1 <= request.num_frames <= limits.get(
        "max_frames", request.num_frames
    ):
        raise ValueError(f"num_frames must be between 1 and {limits.get('max_frames')}")
