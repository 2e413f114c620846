"""Exports of a big board: the PDF (1, 2 and 3 panels a row), the animatic and the ZIP of takes.

A storyboard of --panels panels (200), each with a selected take whose image is a real PNG of
--size pixels (512x288, grainy so it compresses like a frame, not like a flat colour), a third
with dialogue, every fifth with notes. Each export runs through `render_export`, as the export
worker calls it, Content Credentials included; the signing certificate is made before timing.
The issue's target: the 200-panel PDF in 20 s or less on a 2-core CPU.

It runs on a throwaway var dir with its own SQLite database, never on the developer's data.
With DATABASE_URL set (PostgreSQL), a throwaway test_<name> database is created on that server
and dropped at the end, as the test runner does.

    .venv/bin/python bench/export.py                      # 200 panels, 512x288 frames
    .venv/bin/python bench/export.py --panels 50 --size 1024x576 --skip animatic
    make bench BENCHES=export EXPORT_ARGS="--panels 500"

The last line printed is one JSON object (export_* keys), for scripts and CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: Django's apps import from this checkout

from bench.throwaway import load_average, throwaway_studio  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"  # nothing is queued; isolated all the same
EXPORTS = ("pdf1", "pdf2", "pdf3", "animatic", "zip")


def main() -> None:
    args = parse_args()
    with throwaway_studio(prefix="slate-export-", redis_url=REDIS_URL) as var_dir:
        from django.db import connection

        print(f"export: {args.panels} panels, {args.width}x{args.height} PNG frames, "
              f"{connection.vendor}, {os.cpu_count()} CPUs, load {load_average()}", flush=True)  # fmt: skip
        started = time.perf_counter()
        storyboard = build(args)
        print(f"data built in {time.perf_counter() - started:.1f} s", flush=True)
        warm_up()
        results = {name: measure(name, storyboard, var_dir / name) for name in args.exports}
        vendor = connection.vendor
    report(args, results, vendor)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panels", type=int, default=200, help="panels on the board (200)")
    parser.add_argument("--size", default="512x288", help="each take's PNG, WxH (512x288)")
    parser.add_argument("--skip", nargs="*", default=[], choices=EXPORTS, help="exports to skip")
    args = parser.parse_args()
    try:
        args.width, args.height = (int(side) for side in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size is WIDTHxHEIGHT, like 512x288")
    if args.panels < 1 or not (16 <= args.width <= 4096 and 16 <= args.height <= 4096):
        parser.error("--panels must be at least 1 and each side of --size 16 to 4096")
    args.exports = [name for name in EXPORTS if name not in args.skip]
    return args


def frame_png(index: int, width: int, height: int) -> bytes:
    """A frame with soft grain in it: a flat colour would make decoding and encoding it
    unrealistically cheap, pure noise unrealistically dear."""
    from PIL import Image, ImageDraw, ImageFilter

    noise = Image.effect_noise((width, height), 40 + index % 30).filter(ImageFilter.BoxBlur(2))
    image = Image.merge("RGB", [noise] * 3)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2),
                                    fill=(200, 60 + index % 150, 40))  # fmt: skip
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def build(args):
    """The board, in bulk: panels, one succeeded take each with its own PNG, selected."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from generation.models import Status, Take
    from storyboards import services
    from storyboards.models import Panel

    owner = get_user_model().objects.create_user("bench")
    project = services.project_create(user=owner, name="Export bench")
    board = services.storyboard_create(project=project, user=owner, title="Two hundred shots")
    shots = ["ws", "ms", "cu", "ecu", "ots"]
    panels = Panel.objects.bulk_create(
        Panel(storyboard=board, position=i, created_by=owner, shot_type=shots[i % len(shots)],
              prompt=f"shot {i + 1}: a diner at night, rain on the windows, neon sign",
              action=f"Beat {i + 1}. The detective looks up from the counter, then at the door "
                     "as the bell rings and the rain comes in with the stranger.",
              dialogue="WAITRESS: More coffee? You look like you have been out there all night."
                       if i % 3 == 0 else "",
              notes="Match the light of the previous shot." if i % 5 == 0 else "",
              duration_ms=1500 + (i % 4) * 500)
        for i in range(args.panels)
    )  # fmt: skip
    folder = Path(settings.MEDIA_ROOT) / "takes" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    now = timezone.now()
    takes = []
    for i, panel in enumerate(panels):
        name = f"takes/bench/{i:05d}.png"
        (Path(settings.MEDIA_ROOT) / name).write_bytes(frame_png(i, args.width, args.height))
        takes.append(Take(
            panel=panel, author=owner, model_key="tiny", model_source="builtin:tiny-sd",
            prompt=panel.prompt, seed=1000 + i, steps=4, guidance=5.0, width=args.width,
            height=args.height, status=Status.SUCCEEDED, progress=1.0, image=name,
            started_at=now, finished_at=now, gpu_seconds=0.4, attempts=1,
        ))  # fmt: skip
    Take.objects.bulk_create(takes, batch_size=1000)
    for panel, take in zip(panels, takes, strict=True):
        panel.selected_take = take
    Panel.objects.bulk_update(panels, ["selected_take"], batch_size=1000)
    return board


def warm_up() -> None:
    """The signing certificate is made once per deployment, not once per export."""
    from generation import provenance

    provenance.certificates_ensure()


def measure(name: str, storyboard, workdir: Path) -> dict:
    from generation.exporters import render_export

    kind, options = ("pdf", {"layout": int(name[-1])}) if name.startswith("pdf") else (name, {})
    export = types.SimpleNamespace(kind=kind, storyboard=storyboard,
                                   project=storyboard.project, options=options)  # fmt: skip
    workdir.mkdir()
    started = time.perf_counter()
    files = render_export(export=export, workdir=workdir, on_progress=lambda fraction: None)
    seconds = time.perf_counter() - started
    size = files["file"].stat().st_size
    print(
        f"  {name:<10}{seconds:>8.2f} s {size / 2**20:>8.1f} MB  {files['file'].name}", flush=True
    )
    shutil.rmtree(workdir, ignore_errors=True)  # a 200-panel run leaves hundreds of MB otherwise
    return {"s": seconds, "bytes": size}


def report(args, results: dict, vendor: str) -> None:
    summary = {"export_panels": args.panels, "export_frame": f"{args.width}x{args.height}"}
    for name, result in results.items():
        summary[f"export_{name}_s"] = round(result["s"], 2)
        summary[f"export_{name}_bytes"] = result["bytes"]
    summary["export_database"] = vendor
    print(f"  load average at the end {load_average()}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
