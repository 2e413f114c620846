"""The storyboard page of a big board: time, queries and size of one GET.

A storyboard of --panels panels (500) with --takes takes (5,000) spread evenly over them (most
succeeded, each panel's last success selected; some failed, a few queued or running) and a few
comments per panel, then the page as its owner gets it through Django's test client: one warm-up
request, then --repeat timed ones (best and median count), then one more to count queries.
Only the URL is measured (`storyboard-detail`), never the view or presenters directly.

It runs on a throwaway var dir with its own SQLite database, never on the developer's data.
With DATABASE_URL set (PostgreSQL), a throwaway test_<name> database is created on that server
and dropped at the end, as the test runner does.

    .venv/bin/python bench/page.py                                   # 500 panels, 5,000 takes
    .venv/bin/python bench/page.py --panels 100 --takes 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/slate .venv/bin/python bench/page.py
    make bench PAGE_ARGS="--panels 1000 --takes 10000"

The last line printed is one JSON object (page_* keys), for scripts and CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: Django's apps import from this checkout

from bench.throwaway import load_average, throwaway_studio  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"  # nothing is queued; isolated all the same
IMAGE_NAME = "takes/bench-page.png"


def main() -> None:
    args = parse_args()
    with throwaway_studio(prefix="slate-page-", redis_url=REDIS_URL):
        from django.db import connection

        database = f"{connection.vendor} ({connection.settings_dict['NAME']})"
        print(f"page: {args.panels} panels, {args.takes} takes, {args.comments} comments a panel, "
              f"{database}, {os.cpu_count()} CPUs, load {load_average()}", flush=True)  # fmt: skip
        started = time.perf_counter()
        owner, storyboard, made = build(args)
        print(f"data built in {time.perf_counter() - started:.1f} s", flush=True)
        measured = measure(args, owner, storyboard)
        vendor = connection.vendor
    report(args, made, measured, vendor)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panels", type=int, default=500, help="panels on the board (500)")
    parser.add_argument("--takes", type=int, default=5000, help="takes in all (5000)")
    parser.add_argument("--comments", type=int, default=3, help="comments a panel (3)")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests (5)")
    args = parser.parse_args()
    if args.panels < 1 or args.takes < 0 or args.comments < 0 or args.repeat < 1:
        parser.error("--panels and --repeat must be at least 1, --takes and --comments 0 or more")
    return args


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 36), (40, 44, 52)).save(out, format="PNG")
    return out.getvalue()


def build(args):
    """The board, in bulk: a few thousand rows in seconds. The owner, the board, counts."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from generation.models import Status, Take
    from storyboards import services
    from storyboards.models import Comment, Panel

    image = Path(settings.MEDIA_ROOT) / IMAGE_NAME  # one real file; every take points at it
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(png())

    User = get_user_model()
    # No passwords: force_login needs none, and hashing one costs ~0.3 s.
    owner = User.objects.create_user("bench")
    others = [User.objects.create_user(name) for name in ("writer", "artist")]
    project = services.project_create(user=owner, name="Page bench")
    services.member_add(project=project, username="writer", role="writer")
    services.member_add(project=project, username="artist", role="artist")
    board = services.storyboard_create(project=project, user=owner, title="Five hundred shots")

    rng = random.Random(7)
    shots = ["ws", "ms", "cu", "ecu", "ots"]
    panels = Panel.objects.bulk_create(
        Panel(storyboard=board, position=i, created_by=owner, shot_type=shots[i % len(shots)],
              prompt=f"shot {i + 1}: a diner at night, rain on the windows, neon sign",
              action=f"Beat {i + 1}. The detective looks up from the counter.",
              dialogue="WAITRESS: More coffee?" if i % 3 == 0 else "",
              notes="Match the light of the previous shot." if i % 5 == 0 else "")
        for i in range(args.panels)
    )  # fmt: skip

    now = timezone.now()
    per_panel: dict[int, list[Take]] = {p.pk: [] for p in panels}
    takes = []
    for i in range(args.takes):
        panel = panels[i % len(panels)]
        take = Take(
            panel=panel, author=rng.choice([owner, *others]), model_key="tiny",
            model_source="builtin:tiny-sd", prompt=panel.prompt, seed=1000 + i, steps=4,
            guidance=5.0, width=64, height=64, status=Status.SUCCEEDED, progress=1.0,
            image=IMAGE_NAME, started_at=now, finished_at=now, gpu_seconds=0.4, attempts=1,
            timings={"queue_wait_s": 0.1, "sampling_s": 0.3, "save_s": 0.01},
        )  # fmt: skip
        per_panel[panel.pk].append(take)
        takes.append(take)
    # The last take of some panels is still going; a few takes along the way failed.
    for n, panel in enumerate(panels):
        mine = per_panel[panel.pk]
        for take in mine[:-1]:
            if rng.random() < 0.05:
                take.status, take.image, take.progress = Status.FAILED, "", 0.0
                take.error = "CUDA out of memory. Tried to allocate 2.00 GiB"
        if mine and n % 10 == 3:
            mine[-1].status, mine[-1].image, mine[-1].progress = Status.QUEUED, "", 0.0
            mine[-1].started_at = mine[-1].finished_at = None
        elif mine and n % 25 == 7:
            mine[-1].status, mine[-1].image, mine[-1].progress = Status.RUNNING, "", 0.4
            mine[-1].finished_at, mine[-1].heartbeat_at = None, now
    Take.objects.bulk_create(takes, batch_size=1000)
    # queued_at is auto_now_add, the same instant for all: stagger it so order means something.
    for i, take in enumerate(takes):
        take.queued_at = now - timedelta(seconds=len(takes) - i)
    Take.objects.bulk_update(takes, ["queued_at"], batch_size=1000)

    for panel in panels:
        done = [t for t in per_panel[panel.pk] if t.status == Status.SUCCEEDED]
        panel.selected_take = done[-1] if done else None
    Panel.objects.bulk_update(panels, ["selected_take"], batch_size=1000)

    authors = [owner, *others]
    Comment.objects.bulk_create(
        (Comment(panel=panel, author=authors[(i + k) % len(authors)],
                 body=f"Note {k + 1} on shot {i + 1}: tighter, and keep the sign in frame.")
         for i, panel in enumerate(panels) for k in range(args.comments)),
        batch_size=1000,
    )  # fmt: skip
    made = {"panels": len(panels), "takes": len(takes),
            "statuses": dict(Counter(t.status for t in takes)),
            "comments": len(panels) * args.comments}  # fmt: skip
    return owner, board, made


def measure(args, owner, storyboard) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client()
    client.force_login(owner)
    url = reverse("storyboard-detail", args=[storyboard.pk])

    def get():
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        return response

    warm_started = time.perf_counter()
    get()  # the first request also compiles templates and warms caches: not timed
    warm_ms = (time.perf_counter() - warm_started) * 1000
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - started) * 1000)
    # Counted apart from the timed requests: capturing queries makes each one a little slower.
    with CaptureQueriesContext(connection) as queries:
        get()
    return {"url": url, "ms": times, "warm_ms": warm_ms, "queries": len(queries),
            "bytes": len(response.content)}  # fmt: skip


def report(args, made, measured, vendor) -> None:
    ms = measured["ms"]
    best, median = min(ms), statistics.median(ms)
    print(f"\nGET {measured['url']} as the owner, {made['panels']} panels, {made['takes']} takes "
          f"({', '.join(f'{n} {s}' for s, n in sorted(made['statuses'].items()))}), "
          f"{made['comments']} comments:")  # fmt: skip
    print(f"  {'best':<24}{best:>10.1f} ms")
    print(f"  {f'median of {len(ms)}':<24}{median:>10.1f} ms")
    print(f"  {'first (warm-up)':<24}{measured['warm_ms']:>10.1f} ms")
    print(f"  {'per panel (best)':<24}{best / made['panels']:>10.2f} ms")
    print(f"  {'queries':<24}{measured['queries']:>10}")
    print(f"  {'HTML':<24}{measured['bytes']:>10} bytes ({measured['bytes'] / 2**20:.2f} MB, "
          f"{measured['bytes'] / made['panels'] / 1024:.1f} KB a panel)")  # fmt: skip
    print(f"  all timed requests: {', '.join(f'{x:.0f}' for x in ms)} ms; load average at the "
          f"end {load_average()}")  # fmt: skip
    print(json.dumps({
        "page_panels": made["panels"],
        "page_takes": made["takes"],
        "page_comments": made["comments"],
        "page_queries": measured["queries"],
        "page_ms": round(best, 1),
        "page_median_ms": round(median, 1),
        "page_warmup_ms": round(measured["warm_ms"], 1),
        "page_html_bytes": measured["bytes"],
        "page_database": vendor,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
