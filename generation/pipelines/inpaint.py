"""Inpaint: repaint only the white part of a shot's mask; black pixels come back untouched."""

from __future__ import annotations

import torch
from diffusers import StableDiffusionInpaintPipeline
from PIL import Image

from .spec import Rendered, RenderRequest
from .variation import fit


def run_inpaint(
    pipe: StableDiffusionInpaintPipeline, request: RenderRequest, *, on_step_end
) -> list[Rendered]:
    shots = request.shots
    # 1. Sources and masks at the output size; masks as one channel, white = repaint.
    sources = [fit(shot.init_image, request.width, request.height, "RGB") for shot in shots]
    masks = [fit(shot.mask_image, request.width, request.height, "L") for shot in shots]

    # 2. One generator per shot: a shot renders the same pixels alone or inside a batch.
    generators = [torch.Generator(pipe.device).manual_seed(shot.seed) for shot in shots]

    # 3. Denoise. Height and width must go in: left out, the output shrinks to the UNet's
    #    sample size whatever the source's size.
    output = pipe(
        prompt=[shot.prompt for shot in shots],
        negative_prompt=[shot.negative_prompt for shot in shots],
        image=sources,
        mask_image=masks,
        height=request.height,
        width=request.width,
        strength=request.strength,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=generators,
        callback_on_step_end=on_step_end,
    )

    # 4. Paste the result over the source through the mask. A plain 4-channel UNet, and the VAE
    #    round trip, change pixels outside the mask too; the artist asked to keep those.
    return [
        Rendered(image=Image.composite(image, source, mask))
        for image, source, mask in zip(output.images, sources, masks, strict=True)
    ]
