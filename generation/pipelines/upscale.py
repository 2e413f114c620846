"""Upscale: a shot's picture at `scale` times its size, detail invented by a diffusion upscaler.

request.width and request.height describe the input; the output is scale times larger. The
upscaler's VAE shrinks by exactly that factor, so latents stay at the input size.
"""

from __future__ import annotations

import torch
from diffusers import StableDiffusionUpscalePipeline

from .spec import Rendered, RenderRequest
from .variation import fit


def run_upscale(
    pipe: StableDiffusionUpscalePipeline, request: RenderRequest, *, on_step_end
) -> list[Rendered]:
    shots = request.shots
    # 1. Sources at the declared input size.
    sources = [fit(shot.init_image, request.width, request.height, "RGB") for shot in shots]

    # 2. One generator per shot: a shot renders the same pixels alone or inside a batch.
    generators = [torch.Generator(pipe.device).manual_seed(shot.seed) for shot in shots]

    # 3. Denoise. This pipeline predates callback_on_step_end: adapt its older per-step callback.
    output = pipe(
        prompt=[shot.prompt for shot in shots],
        negative_prompt=[shot.negative_prompt for shot in shots],
        image=sources,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=generators,
        callback=lambda step, timestep, latents: on_step_end(
            pipe, step, timestep, {"latents": latents}
        ),
        callback_steps=1,
    )

    # 4. Hand back one picture per shot, in shot order.
    return [Rendered(image=image) for image in output.images]
