"""The animatic: each panel's frame held for its duration, dialogue burned in and beside it
as an .srt.

Each panel becomes one still (its frame letterboxed on the board's shape, or a card with the
shot number and action when it has none, and the dialogue on a translucent band). ffmpeg's
concat demuxer then holds each still for its duration: a still is composed and colour-converted
once, never once a frame. H.264 in yuv420p at a constant 12 fps with the index at the front:
every player opens it, and an editor's 24 fps timeline takes it without drift.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .frames import frame_open
from .sheet import Sheet, SheetPanel
from .text import clean, wrap_lines

FPS = 12  # a 24 fps timeline shows each frame twice; half the frames to encode
SHORT_SIDE = 540  # px: enough to read a frame and its caption, quick to encode
CARD, PAPER, BAND = (30, 32, 36), (236, 236, 232), (0, 0, 0, 150)
CAPTION_LINES = 3
STILLS_SHARE = 0.3  # of the progress bar; encoding takes the rest


def animatic_write(
    *, sheet: Sheet, mp4_path: Path, srt_path: Path, workdir: Path,
    on_progress: Callable[[float], None] = lambda fraction: None,
) -> None:  # fmt: skip
    if not sheet.panels:
        raise ValueError("This storyboard has no panels to play.")
    # 1. One still per panel, at the board's frame shape.
    size = frame_size(sheet.aspect_ratio)
    stills = workdir / "animatic-stills"
    stills.mkdir(parents=True, exist_ok=True)
    names = []
    for index, panel in enumerate(sheet.panels):
        name = f"{index:05d}.png"
        still_compose(panel, size).save(stills / name, compress_level=1)  # speed over size
        names.append(name)
        on_progress(STILLS_SHARE * (index + 1) / len(sheet.panels))
    # 2. Hold each still for its panel's duration.
    playlist = stills / "animatic.ffconcat"
    playlist.write_text(_playlist(names, [p.duration_ms for p in sheet.panels]))
    _encode(playlist, mp4_path, sheet.duration_ms, workdir, on_progress)
    shutil.rmtree(stills)  # a megabyte or more a panel, and the film now holds them
    # 3. The same dialogue as subtitles, cue times straight from the durations.
    srt_path.write_text(srt_text(sheet), encoding="utf-8")
    on_progress(1.0)


def frame_size(aspect_ratio: str) -> tuple[int, int]:
    """(width, height) of `aspect_ratio` with its short side SHORT_SIDE, both even (yuv420p
    stores colour per 2x2 block)."""
    across, down = (float(part) for part in aspect_ratio.split(":"))
    long_side = round(SHORT_SIDE * max(across, down) / min(across, down) / 2) * 2
    return (long_side, SHORT_SIDE) if across >= down else (SHORT_SIDE, long_side)


def still_compose(panel: SheetPanel, size: tuple[int, int]) -> Image.Image:
    frame = frame_open(panel.image_path)
    still = _letterboxed(frame, size) if frame else _card(panel, size)
    if clean(panel.dialogue).strip():
        still = _with_caption(still, panel.dialogue)
    return still


def _letterboxed(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    scale = min(size[0] / frame.width, size[1] / frame.height)
    fitted = frame.resize(
        (max(1, round(frame.width * scale)), max(1, round(frame.height * scale))),
        Image.Resampling.BICUBIC,
    )
    still = Image.new("RGB", size, (0, 0, 0))
    still.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return still


def _card(panel: SheetPanel, size: tuple[int, int]) -> Image.Image:
    """No frame yet: the shot number and what happens, so the cut still reads."""
    width, height = size
    still = Image.new("RGB", size, CARD)
    draw = ImageDraw.Draw(still)
    big, small = _font(height // 7), _font(max(14, height // 24))
    heading = f"Shot {panel.shot_number}" + (f" · {panel.shot_label}" if panel.shot_label else "")
    heading = wrap_lines(heading, width=width * 0.84, measure=big.getlength, max_lines=1)
    action = wrap_lines(panel.action, width=width * 0.76, measure=small.getlength, max_lines=4)
    line_height = small.size * 1.3
    top = height * 0.3
    draw.text((width / 2, top), heading[0], font=big, fill=PAPER, anchor="mm")
    for n, line in enumerate(action):
        y = top + big.size + n * line_height
        draw.text((width / 2, y), line, font=small, fill=PAPER, anchor="mm")
    return still


def _with_caption(still: Image.Image, dialogue: str) -> Image.Image:
    width, height = still.size
    font = _font(max(14, height // 20))
    lines = wrap_lines(dialogue, width=width * 0.84, measure=font.getlength,
                       max_lines=CAPTION_LINES)  # fmt: skip
    line_height = font.size * 1.3
    padding = font.size * 0.6
    band_top = round(height - len(lines) * line_height - 2 * padding)
    overlay = Image.new("RGBA", still.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, band_top, width, height), fill=BAND)
    for n, line in enumerate(lines):
        y = band_top + padding + (n + 0.5) * line_height
        draw.text((width / 2, y), line, font=font, fill=(255, 255, 255, 255), anchor="mm")
    return Image.alpha_composite(still.convert("RGBA"), overlay).convert("RGB")


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow's own font: no system fonts needed


def _playlist(names: list[str], durations_ms: list[int]) -> str:
    # Each still read at the film's frame rate, so its start lands on a frame once, not on the
    # image reader's default 1/25 s grid and then again on ours.
    entries = [
        f"file {name}\noption framerate {FPS}\nduration {ms / 1000:.3f}\n"
        for name, ms in zip(names, durations_ms, strict=True)
    ]
    # The demuxer ignores the last entry's duration unless the file comes once more; `-t` then
    # cuts the film at the exact total.
    return "ffconcat version 1.0\n" + "".join(entries) + f"file {names[-1]}\n"


def _encode(playlist: Path, mp4_path: Path, total_ms: int, workdir: Path, on_progress) -> None:
    import imageio_ffmpeg  # the bundled ffmpeg: nothing to install

    log_path = workdir / "ffmpeg.log"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        # -safe 0 allows the `option` lines; every name in the playlist is ours (00001.png).
        "-f", "concat", "-safe", "0", "-i", str(playlist),
        # Colour converted once a still; the fps filter then repeats the converted frame.
        "-vf", f"format=yuv420p,fps={FPS}",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-t", f"{total_ms / 1000:.3f}", "-movflags", "+faststart",
        "-progress", "pipe:1", "-nostats", str(mp4_path),
    ]  # fmt: skip
    with (
        log_path.open("wb") as log,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True) as ffmpeg,
    ):
        for line in ffmpeg.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                done = min(1.0, int(value) / 1000 / total_ms)
                on_progress(STILLS_SHARE + (1 - STILLS_SHARE) * done)
    if ffmpeg.returncode != 0:
        raise RuntimeError(f"ffmpeg could not encode the animatic: {log_path.read_text()[-500:]}")


def srt_text(sheet: Sheet) -> str:
    """One cue per panel with dialogue, timed by the panels' durations to the millisecond."""
    cues, start = [], 0
    for panel in sheet.panels:
        end = start + panel.duration_ms
        lines = [line.strip() for line in clean(panel.dialogue).split("\n") if line.strip()]
        if lines:  # a blank line would end the cue early
            cues.append(f"{len(cues) + 1}\n{_timestamp(start)} --> {_timestamp(end)}\n"
                        + "\n".join(lines) + "\n")  # fmt: skip
        start = end
    return "\n".join(cues)


def _timestamp(ms: int) -> str:
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{ms:03d}"
