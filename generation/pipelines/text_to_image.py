"""Text to image: a picture for each shot from its prompt alone."""

from __future__ import annotations

import torch
from diffusers import StableDiffusionPipeline

from .spec import Rendered, RenderRequest


def run_text_to_image(
    pipe: StableDiffusionPipeline, request: RenderRequest, *, on_step_end
) -> list[Rendered]:
    shots = request.shots
    # 1. One generator per shot: a shot renders the same pixels alone or inside a batch.
    generators = [torch.Generator(pipe.device).manual_seed(shot.seed) for shot in shots]

    # 2. Denoise every shot in one call. Height and width always go in: left out, they fall
    #    back to the UNet's sample size, which for the tiny model is a 16 px image.
    output = pipe(
        prompt=[shot.prompt for shot in shots],
        negative_prompt=[shot.negative_prompt for shot in shots],
        height=request.height,
        width=request.width,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=generators,
        callback_on_step_end=on_step_end,
    )

    # 3. Hand back one picture per shot, in shot order.
    return [Rendered(image=image) for image in output.images]
