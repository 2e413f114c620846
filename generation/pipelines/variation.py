"""Variation (image to image): repaint a shot's picture, keeping its layout.

strength says how much is repainted: the sampler skips the first (1 - strength) of the schedule,
so only int(steps * strength) steps run.
"""

from __future__ import annotations

import torch
from diffusers import StableDiffusionImg2ImgPipeline
from PIL import Image

from .spec import Rendered, RenderRequest


def run_variation(
    pipe: StableDiffusionImg2ImgPipeline, request: RenderRequest, *, on_step_end
) -> list[Rendered]:
    shots = request.shots
    # 1. The init image sets the output size here, so bring every source to the requested one.
    sources = [fit(shot.init_image, request.width, request.height, "RGB") for shot in shots]

    # 2. One generator per shot: a shot renders the same pixels alone or inside a batch.
    generators = [torch.Generator(pipe.device).manual_seed(shot.seed) for shot in shots]

    # 3. Noise the sources part way and denoise them back under the new prompts.
    output = pipe(
        prompt=[shot.prompt for shot in shots],
        negative_prompt=[shot.negative_prompt for shot in shots],
        image=sources,
        strength=request.strength,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=generators,
        callback_on_step_end=on_step_end,
    )

    # 4. Hand back one picture per shot, in shot order.
    return [Rendered(image=image) for image in output.images]


def fit(image: Image.Image, width: int, height: int, mode: str) -> Image.Image:
    """The image in `mode` at exactly width x height."""
    image = image.convert(mode)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image
