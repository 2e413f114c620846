"""Cheap previews of a render in progress, straight from the latents: no VAE decode.

Each latent pixel is mapped to RGB by a fixed linear projection fitted to SD's VAE (the factors
ComfyUI and A1111 use). The picture is a blurry guess, which is all a progress thumbnail needs.
"""

from __future__ import annotations

import torch
from PIL import Image

from generation.media import encode_jpeg

# Rows: SD's 4 latent channels; columns: their contribution to R, G and B in [-1, 1].
SD_LATENT_RGB_FACTORS = torch.tensor(
    [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ]
)
MAX_PREVIEW_SIDE = 256


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The output size, shrunk so its long side is at most MAX_PREVIEW_SIDE."""
    shrink = min(1.0, MAX_PREVIEW_SIDE / max(width, height))
    return max(1, round(width * shrink)), max(1, round(height * shrink))


def latents_to_jpegs(latents: torch.Tensor, size: tuple[int, int]) -> list[bytes]:
    """One small JPEG per batch item; video latents (B, C, F, H, W) show their middle frame."""
    if latents.ndim == 5:
        latents = latents[:, :, latents.shape[2] // 2]
    if latents.shape[1] != SD_LATENT_RGB_FACTORS.shape[0]:
        raise ValueError(f"linear preview needs 4 latent channels, got {latents.shape[1]}")
    rgb = torch.einsum("bchw,cr->bhwr", latents.float().cpu(), SD_LATENT_RGB_FACTORS)
    pixels = ((rgb + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    # NEAREST keeps each latent pixel a crisp block: honest about how little is known yet.
    return [
        encode_jpeg(Image.fromarray(frame).resize(size, Image.Resampling.NEAREST))
        for frame in pixels
    ]
