"""The ZIP of takes: the chosen panels' selected takes, their files as stored (PNG metadata
and Content Credentials included), and manifest.json saying what made each one.

Every name inside is built here from digits and shot-type letters, never from what a person
typed or a stored path, so nothing can land outside the folder it is unpacked into.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from .sheet import Sheet, SheetPanel, SheetTake

MANIFEST = "manifest.json"
_SAFE = re.compile(r"[^a-z0-9]+")
_CHUNK = 1 << 20


def zip_write(
    *, sheet: Sheet, out_path: Path, panel_ids: list[int] | None = None,
    on_progress: Callable[[float], None] = lambda fraction: None,
) -> Path:  # fmt: skip
    """Write the takes of `panel_ids` (every panel when None), in board order, to `out_path`."""
    panels = _chosen(sheet, panel_ids)
    digits = max(3, len(str(max((p.shot_number for p in sheet.panels), default=0))))
    takes, skipped = [], []
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, panel in enumerate(panels):
            if panel.take is None:
                skipped.append(_skip(panel, "no selected take"))
            else:
                files = _add_files(archive, panel, panel.take, digits)
                if files:
                    takes.append(_entry(panel, panel.take, files))
                else:
                    skipped.append(_skip(panel, "the take's files are missing"))
            on_progress((index + 1) / len(panels))
        manifest = {
            "project": sheet.project,
            "storyboard": sheet.storyboard,
            "exported_at": timezone.now().isoformat(),
            "takes": takes,
            "skipped": skipped,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False),
                         compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
    on_progress(1.0)
    return out_path


def _chosen(sheet: Sheet, panel_ids: list[int] | None) -> list[SheetPanel]:
    if panel_ids is None:
        return list(sheet.panels)
    if not isinstance(panel_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in panel_ids
    ):
        raise ValueError("panels must be a list of panel ids")
    on_board = {panel.id for panel in sheet.panels}
    if missing := sorted(set(panel_ids) - on_board):
        raise ValueError(f"panels {', '.join(map(str, missing))} are not on this storyboard")
    wanted = set(panel_ids)
    return [panel for panel in sheet.panels if panel.id in wanted]


def take_file_name(panel: SheetPanel, take: SheetTake, digits: int, suffix: str) -> str:
    """001-cu-take-42.png: shot number, shot type (when set), take id."""
    shot = _SAFE.sub("", panel.shot_type.lower())
    extension = _SAFE.sub("", suffix.lower()) or "bin"
    parts = [f"{panel.shot_number:0{digits}d}", *([shot] if shot else []), "take", str(take.id)]
    return "-".join(parts) + f".{extension}"


def _add_files(archive: zipfile.ZipFile, panel: SheetPanel, take: SheetTake, digits: int):
    files = []
    for kind, path in (("image", take.image_path), ("video", take.video_path)):
        if path is None or not path.is_file():
            continue
        name = take_file_name(panel, take, digits, path.suffix.lstrip("."))
        digest = hashlib.sha256()
        with path.open("rb") as source, archive.open(name, "w") as target:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                target.write(chunk)
        files.append({"kind": kind, "name": name, "bytes": path.stat().st_size,
                      "sha256": digest.hexdigest()})  # fmt: skip
    return files


def _entry(panel: SheetPanel, take: SheetTake, files: list[dict]) -> dict:
    return {
        "panel_id": panel.id,
        "panel_position": panel.position,
        "shot_number": panel.shot_number,
        "shot_type": panel.shot_type,
        "take_id": take.id,
        "parameters": take.parameters,
        "prompt_parts": take.prompt_parts,
        "prompt_cut": take.prompt_cut,
        "parent_take": take.parent_id,
        "author": take.author,
        "gpu_seconds": take.gpu_seconds,
        "files": files,
    }


def _skip(panel: SheetPanel, reason: str) -> dict:
    return {"panel_id": panel.id, "shot_number": panel.shot_number, "reason": reason}
