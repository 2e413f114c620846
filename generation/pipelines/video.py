"""Video: a short clip per shot from its prompt: AnimateDiff motion modules over the image UNet."""

from __future__ import annotations

import torch
from diffusers import AnimateDiffPipeline

from .spec import Rendered, RenderRequest


def run_video(pipe: AnimateDiffPipeline, request: RenderRequest, *, on_step_end) -> list[Rendered]:
    shots = request.shots
    # 1. One generator per shot: a shot renders the same frames alone or inside a batch.
    generators = [torch.Generator(pipe.device).manual_seed(shot.seed) for shot in shots]

    # 2. Denoise all frames of all shots together; the motion modules attend across frames.
    #    request.fps is not used here: it only matters when the frames are encoded.
    output = pipe(
        prompt=[shot.prompt for shot in shots],
        negative_prompt=[shot.negative_prompt for shot in shots],
        num_frames=request.num_frames,
        height=request.height,
        width=request.width,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=generators,
        output_type="pil",
        callback_on_step_end=on_step_end,
    )

    # 3. Hand back the frames of each shot, in shot order.
    return [Rendered(frames=list(frames)) for frames in output.frames]
