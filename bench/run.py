"""`make bench`: the five benchmarks one after another, then one JSON line merging theirs.

generation.py (the studio against raw diffusers), fanout.py (live events under load), page.py
(the storyboard page of a big board), script.py (a 120-page screenplay read, broken down and
storyboarded, under 1 s) and export.py (a 200-panel board's PDF, animatic and ZIP of takes)
each run as a subprocess with their output streamed as it comes; the last line each prints is
its JSON summary. Each gets its own arguments, from the environment (make passes its
command-line variables there):

    make bench                                                        # all three, defaults
    make bench BENCH_ARGS="--device cuda --profile sd-turbo-arch --n 32"   # generation.py's
    make bench FANOUT_ARGS="--web-processes 2" PAGE_ARGS="--panels 1000"
    make bench BENCHES="fanout page"                                  # a subset, in that order
    .venv/bin/python bench/run.py fanout page

The last line printed is one JSON object: every script's keys together (fanout_*, page_* and
export_* are prefixed; generation.py's are not), plus `bench_failed`, the scripts that failed, if
any. The exit status is 1 when one failed; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = {  # name: (script, the environment variable holding its arguments)
    "generation": ("bench/generation.py", "BENCH_ARGS"),
    "fanout": ("bench/fanout.py", "FANOUT_ARGS"),
    "page": ("bench/page.py", "PAGE_ARGS"),
    "script": ("bench/script.py", "SCRIPT_ARGS"),
    "export": ("bench/export.py", "EXPORT_ARGS"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="*", metavar="bench",
                        help=f"which to run, in order: {', '.join(BENCHES)} (default: all)")  # fmt: skip
    names = parser.parse_args().benches or list(BENCHES)
    if unknown := [name for name in names if name not in BENCHES]:
        parser.error(f"no bench called {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    merged: dict = {}
    failed: list[str] = []
    for name in names:
        script, variable = BENCHES[name]
        command = [sys.executable, script, *shlex.split(os.environ.get(variable, ""))]
        print(f"\n=== {name}: {shlex.join(command[1:])}", flush=True)
        started = time.monotonic()
        summary = run(command)
        print(f"=== {name}: {'failed' if summary is None else 'done'} in "
              f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        if summary is None:
            failed.append(name)
        else:
            merged.update(summary)
    if failed:
        merged["bench_failed"] = failed
    print(json.dumps(merged))
    return 1 if failed else 0


def run(command: list[str]) -> dict | None:
    """Stream the script's stdout (stderr goes straight through); its JSON last line, or None
    if it failed or did not end with one."""
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        last = ""
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last = line
    if proc.returncode != 0:
        return None
    try:
        summary = json.loads(last)
    except json.JSONDecodeError:
        return None
    return summary if isinstance(summary, dict) else None


if __name__ == "__main__":
    sys.exit(main())
