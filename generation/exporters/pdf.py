"""The PDF storyboard: 1, 2 or 3 panels a row, two rows a landscape page.

Each panel is its frame (or a calm empty frame when it has none) and its words: shot number,
shot type, duration, action, dialogue, notes, wrapped and cut to their box. Each page is headed
with the project, the storyboard, the date and "page N of M". reportlab needs no system library.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from .frames import JpegCopies
from .sheet import Sheet, SheetPanel
from .text import clean, duration_label, wrap_lines

PAPERS = {"a4": landscape(A4), "letter": landscape(letter)}
LAYOUTS = (1, 2, 3)
ROWS = 2  # panels a page: 2, 4 or 6
MARGIN, HEADER, GUTTER = 36.0, 34.0, 18.0
INK, MUTED, RULE = Color(0.1, 0.1, 0.1), Color(0.42, 0.42, 0.4), Color(0.78, 0.78, 0.76)
EMPTY_FRAME = Color(0.95, 0.95, 0.94)
FONT_SIZE = {1: 10.0, 2: 9.0, 3: 8.0}  # smaller panels, smaller type


@dataclass(frozen=True)
class Box:
    x: float
    y: float  # the bottom edge, as PDF counts
    width: float
    height: float


def pdf_write(
    *, sheet: Sheet, out_path: Path, layout: int, workdir: Path,
    paper: str = "a4", on_progress: Callable[[float], None] = lambda fraction: None,
) -> Path:  # fmt: skip
    """Write the board to `out_path`; frames go in as JPEG copies made under `workdir`."""
    if isinstance(layout, bool) or layout not in LAYOUTS:
        raise ValueError(f"layout must be 1, 2 or 3 panels a row, not {layout!r}")
    if paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {paper!r}")
    with _binary_streams():
        return _write(sheet, out_path, layout, workdir, PAPERS[paper], on_progress)


@contextmanager
def _binary_streams():
    """reportlab writes every stream as ASCII85 text by default, encoded in pure Python here
    (no rl_accel): 28 of the 37 s a 200-panel board took. PDF is 8-bit clean since 1.2."""
    saved, rl_config.useA85 = rl_config.useA85, 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def _write(sheet, out_path, layout, workdir, page_size, on_progress) -> Path:
    per_page = layout * ROWS
    pages = max(1, math.ceil(len(sheet.panels) / per_page))
    frames = JpegCopies(workdir / "pdf-frames")
    canvas = Canvas(str(out_path), pagesize=page_size)
    canvas.setTitle(sheet.title)
    canvas.setCreator("Slate")
    for page in range(pages):
        _draw_header(canvas, sheet, page_size, page + 1, pages)
        chunk = sheet.panels[page * per_page : (page + 1) * per_page]
        if not chunk:
            _draw_note(canvas, page_size, "This storyboard has no panels yet.")
        for index, panel in enumerate(chunk):
            cell = _cell(page_size, layout, index)
            _draw_panel(canvas, panel, cell, layout, frames)
        canvas.showPage()
        on_progress((page + 1) / pages)
    canvas.save()
    return out_path


def _cell(page_size, layout: int, index: int) -> Box:
    page_width, page_height = page_size
    width = (page_width - 2 * MARGIN - GUTTER * (layout - 1)) / layout
    height = (page_height - 2 * MARGIN - HEADER - GUTTER * (ROWS - 1)) / ROWS
    row, column = divmod(index, layout)
    top = page_height - MARGIN - HEADER - row * (height + GUTTER)
    return Box(MARGIN + column * (width + GUTTER), top - height, width, height)


def _draw_header(canvas: Canvas, sheet: Sheet, page_size, page: int, pages: int) -> None:
    page_width, page_height = page_size
    baseline = page_height - MARGIN - 14
    right = f"{sheet.date:%d %B %Y}   ·   page {page} of {pages}"
    canvas.setFont("Helvetica", 9)
    canvas.setFillColor(MUTED)
    canvas.drawRightString(page_width - MARGIN, baseline, right)
    room = page_width - 2 * MARGIN - stringWidth(right, "Helvetica", 9) - 24
    title = wrap_lines(sheet.title, width=room, max_lines=1,
                       measure=lambda s: stringWidth(s, "Helvetica-Bold", 13))  # fmt: skip
    canvas.setFont("Helvetica-Bold", 13)
    canvas.setFillColor(INK)
    canvas.drawString(MARGIN, baseline, title[0] if title else "")
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.6)
    canvas.line(MARGIN, baseline - 9, page_width - MARGIN, baseline - 9)


def _draw_note(canvas: Canvas, page_size, note: str) -> None:
    canvas.setFont("Helvetica", 11)
    canvas.setFillColor(MUTED)
    canvas.drawCentredString(page_size[0] / 2, page_size[1] / 2, note)


def _draw_panel(canvas: Canvas, panel: SheetPanel, cell: Box, layout: int, frames) -> None:
    size = FONT_SIZE[layout]
    if layout == 1:  # a wide row: the frame on the left, its words beside it
        frame_room = Box(cell.x, cell.y, cell.width * 0.55, cell.height)
        frame = _fit(frame_room, panel.aspect_ratio, top=True)
        text = Box(frame.x + frame.width + 14, cell.y, cell.width - frame.width - 14, cell.height)
    else:  # the frame on top, its words beneath
        text_height = 8 * size * 1.25
        frame_room = Box(
            cell.x, cell.y + text_height + 6, cell.width, cell.height - text_height - 6
        )
        frame = _fit(frame_room, panel.aspect_ratio, top=True)
        text = Box(cell.x, cell.y, cell.width, frame.y - 6 - cell.y)
    _draw_frame(canvas, panel, frame, frames)
    _draw_words(canvas, panel, text, size)


def _fit(room: Box, aspect_ratio: str, *, top: bool) -> Box:
    """The largest box of `aspect_ratio` inside `room`, against its left edge and its top."""
    across, down = (float(part) for part in aspect_ratio.split(":"))
    width = min(room.width, room.height * across / down)
    height = width * down / across
    return Box(room.x, room.y + room.height - height if top else room.y, width, height)


def _draw_frame(canvas: Canvas, panel: SheetPanel, frame: Box, frames: JpegCopies) -> None:
    jpeg = frames.get(panel.take_id, panel.image_path) if panel.take else None
    if jpeg is not None:
        canvas.drawImage(str(jpeg), frame.x, frame.y, frame.width, frame.height,
                         preserveAspectRatio=True, anchor="c")  # fmt: skip
    else:
        canvas.setFillColor(EMPTY_FRAME)
        canvas.rect(frame.x, frame.y, frame.width, frame.height, stroke=0, fill=1)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(MUTED)
        canvas.drawCentredString(frame.x + frame.width / 2, frame.y + frame.height / 2 - 3,
                                 "no frame yet")  # fmt: skip
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.6)
    canvas.rect(frame.x, frame.y, frame.width, frame.height, stroke=1, fill=0)


def _draw_words(canvas: Canvas, panel: SheetPanel, box: Box, size: float) -> None:
    leading = size * 1.25
    baseline = box.y + box.height - size - 2
    heading = f"{panel.shot_number}" + (f"   {panel.shot_label}" if panel.shot_label else "")
    duration = duration_label(panel.duration_ms)
    canvas.setFont("Helvetica-Bold", size + 1)
    canvas.setFillColor(INK)
    canvas.drawString(box.x, baseline, heading)
    canvas.setFont("Helvetica", size)
    canvas.drawRightString(box.x + box.width, baseline, duration)
    fields = [(font, color, text) for font, color, text in (
        ("Helvetica", INK, panel.action),
        ("Helvetica-Oblique", INK, panel.dialogue),
        ("Helvetica", MUTED, f"Notes: {panel.notes}" if clean(panel.notes).strip() else ""),
    ) if clean(text).strip()]  # fmt: skip
    air = leading * 0.3  # between fields
    room = int((baseline - box.y - air * max(0, len(fields) - 1)) // leading)
    for index, (font, color, text) in enumerate(fields):
        later = len(fields) - index - 1  # every later field keeps at least its first line
        lines = wrap_lines(text, width=box.width, max_lines=room - later,
                           measure=lambda s, font=font: stringWidth(s, font, size))  # fmt: skip
        canvas.setFont(font, size)
        canvas.setFillColor(color)
        for line in lines:
            baseline -= leading
            canvas.drawString(box.x, baseline, line)
        room -= len(lines)
        baseline -= air
