"""The frames exports show, read once per take within a run."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

JPEG_LONG_SIDE = 1280  # sharp at the PDF's largest frame (about 5 in wide at 250 dpi)
JPEG_QUALITY = 85


def frame_open(path: Path | None) -> Image.Image | None:
    """The frame as RGB, or None when there is none or it cannot be read (the export then shows
    its placeholder: one lost file must not sink a 200-panel board)."""
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("export: cannot read frame %s: %s", path, error)
        return None


class JpegCopies:
    """JPEG copies of take images in `folder`, made once per take id.

    reportlab embeds a JPEG as it is but decodes and re-compresses a PNG pixel by pixel in
    Python: a 200-panel board took about 4 s from JPEGs and 90 s from PNGs.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.made: dict[int, Path | None] = {}

    def get(self, take_id: int, image_path: Path | None) -> Path | None:
        if take_id not in self.made:
            self.made[take_id] = self._make(take_id, image_path)
        return self.made[take_id]

    def _make(self, take_id: int, image_path: Path | None) -> Path | None:
        image = frame_open(image_path)
        if image is None:
            return None
        image.thumbnail((JPEG_LONG_SIDE, JPEG_LONG_SIDE))  # only ever shrinks
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"take-{take_id}.jpg"
        image.save(path, format="JPEG", quality=JPEG_QUALITY)
        return path
