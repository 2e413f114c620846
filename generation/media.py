"""Turn rendered pictures into the bytes we store and serve, and uploaded bytes back into pictures.

No torch here: the web process imports this module to read uploads.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin


def encode_png(image: Image.Image, metadata: dict[str, str]) -> bytes:
    """PNG with one text chunk per metadata key, plus "parameters" holding all of them as JSON.

    "parameters" is where other Stable Diffusion tools look, so a downloaded take can be re-made
    elsewhere. Latin-1 values go in tEXt chunks; Pillow switches to iTXt for anything else.
    """
    if "parameters" in metadata:
        raise ValueError('"parameters" is reserved: it holds all the other keys as JSON')
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise TypeError(f"metadata values must be str, {key!r} is {type(value).__name__}")
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_text(key, value)
    info.add_text("parameters", json.dumps(metadata, sort_keys=True, ensure_ascii=False))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def encode_jpeg(image: Image.Image, quality: int = 70) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_mp4(frames: list[Image.Image], fps: int) -> bytes:
    """H.264 in yuv420p with the index at the front, which every browser plays while it loads."""
    import imageio_ffmpeg  # the web process never encodes video: keep its import cheap

    if not frames:
        raise ValueError("a video needs at least one frame")
    if len({frame.size for frame in frames}) > 1:
        raise ValueError("all frames must have the same size")
    pixels = [_even_sized(np.asarray(frame.convert("RGB"))) for frame in frames]
    height, width = pixels[0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "take.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=2,  # we already made the size even; don't let it rescale
            output_params=["-movflags", "+faststart"],
            ffmpeg_log_level="error",
        )
        writer.send(None)  # start the ffmpeg process
        for frame in pixels:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return path.read_bytes()


def _even_sized(pixels: np.ndarray) -> np.ndarray:
    """yuv420p stores colour per 2x2 block, so odd sides are padded by repeating the edge pixel."""
    pad_bottom, pad_right = pixels.shape[0] % 2, pixels.shape[1] % 2
    if not (pad_bottom or pad_right):
        return pixels
    return np.pad(pixels, ((0, pad_bottom), (0, pad_right), (0, 0)), mode="edge")


MAX_UPLOAD_PIXELS = 4096 * 4096


class WrongSize(ValueError):
    def __init__(self, size: tuple[int, int]):
        super().__init__(f"{size[0]}x{size[1]}")
        self.size = size


def decode_image(
    data: bytes, max_pixels: int = MAX_UPLOAD_PIXELS, size: tuple[int, int] | None = None
) -> Image.Image:
    """Read an uploaded picture fully, so a truncated or fake file fails here and not later.
    The size is checked from the header first (against `size` when given): a tiny file may
    claim a gigapixel image, and decoding it is the expensive part."""
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])  # what the API promises, nothing more
        if size is not None and image.size != size:
            raise WrongSize(image.size)
        if image.width * image.height > max_pixels:
            raise ValueError(f"image too large ({image.width}x{image.height})")
        image.load()
    except WrongSize:
        raise
    except Exception as exc:  # decoders raise many kinds; all mean "not a usable image"
        raise ValueError("not an image") from exc
    return image
