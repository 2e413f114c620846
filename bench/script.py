"""Reading a feature-length script: parse, scene breakdown and suggested panels, then Final Draft.

A 120-page screenplay (about 110 scenes, 6,600 typeset lines of action and dialogue) is made up
in memory from a seeded random generator, so every run reads the same script. Timed, --repeat
times each (best and median count):

- Fountain: `parse_fountain` (which includes the breakdown) and `beats` for every scene, what
  Slate does when a script is saved;
- Final Draft: `parse_fdx` of the same script written out as .fdx, what an import does.

Either one over --limit-ms (1,000) fails the run: a writer waits on it at every save.

    .venv/bin/python bench/script.py
    .venv/bin/python bench/script.py --scenes 220 --repeat 9
    make bench BENCHES=script SCRIPT_ARGS="--profile"

The last line printed is one JSON object (script_* keys), for scripts and CI.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the package imports from this checkout

from storyboards.screenplay import (  # noqa: E402
    LINES_PER_PAGE,
    beats,
    element_lines,
    parse_fdx,
    parse_fountain,
    to_fdx,
)

CAST = ["MARA", "JOHN", "DETECTIVE RUIZ", "ELLIE", "THE BOSS", "NAK", "BENNY", "OLD WOMAN"]
PLACES = ["DINER", "PARKING LOT", "JOHN'S CAR", "POLICE STATION - INTERROGATION ROOM", "HARBOR",
          "MARA'S APARTMENT - KITCHEN", "ROOFTOP", "HOSPITAL CORRIDOR", "MOTEL ROOM 12", "FERRY"]  # fmt: skip
TIMES = ["DAY", "NIGHT", "CONTINUOUS", "LATER", "DAWN", "MOMENTS LATER", "DUSK"]
SUBJECTS = ["{name} crosses to the window", "Rain hammers the glass", "{name} lights a cigarette",
            "A phone buzzes on the table", "{name} studies the photograph",
            "The neon sign flickers and dies", "{name} runs for the door",
            "Somewhere below, a car alarm starts", "{name} pours two coffees and waits",
            "The kettle whistles", "{name} and {other} trade a long look"]  # fmt: skip
TAILS = ["without a word", "as the light fades", "for a long moment", "then thinks better of it",
         "and the room goes quiet", "slowly, deliberately", "like {pronoun} has done a hundred times"]  # fmt: skip
LINES = ["We should go.", "Not yet.", "You said that last time, and the time before that.",
         "I'm not asking you. I'm telling you.", "Where were you on the night of the ninth?",
         "Does it matter now?", "It matters to me.", "Then you should have called.",
         "Nobody calls anymore. That's the whole problem with this town.", "Fine.",
         "Give me the keys, Benny, and nobody has to get hurt tonight.", "Say that again."]  # fmt: skip
ASIDES = ["(quietly)", "(beat)", "(not looking up)", "(into the phone)", "(re: the photo)"]
TRANSITIONS = ["CUT TO:", "SMASH CUT TO:", "DISSOLVE TO:", "MATCH CUT TO:"]


def main() -> int:
    args = parse_args()
    text = make_script(random.Random(args.seed), args.scenes)
    screenplay = parse_fountain(text)
    lines = sum(element_lines(element) for element in screenplay.elements)
    fdx = to_fdx(screenplay)
    print(f"script: {lines / LINES_PER_PAGE:.0f} pages ({lines} typeset lines), "
          f"{len(screenplay.scenes)} scenes, {len(screenplay.elements)} elements, "
          f"{len(text.encode()) / 1024:.0f} KB of Fountain, {len(fdx) / 1024:.0f} KB of FDX", flush=True)  # fmt: skip
    if args.profile:
        profile(text)
    fountain_ms = timed(lambda: read_and_storyboard(text), args.repeat)
    fdx_ms = timed(lambda: parse_fdx(fdx), args.repeat)
    panels = sum(len(beats(screenplay, i)) for i in range(len(screenplay.scenes)))
    report(args, screenplay, lines, panels, fountain_ms, fdx_ms)
    slow = [
        name for name, ms in (("fountain", fountain_ms), ("fdx", fdx_ms)) if min(ms) > args.limit_ms
    ]
    if slow:
        print(f"FAILED: {', '.join(slow)} over {args.limit_ms} ms", file=sys.stderr)
        return 1
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=110, help="scenes in the script (110)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit-ms", type=float, default=1000.0, help="fail above this (1000)")
    parser.add_argument("--profile", action="store_true", help="print the 15 costliest functions")
    return parser.parse_args()


def read_and_storyboard(text: str) -> int:
    screenplay = parse_fountain(text)
    return sum(len(beats(screenplay, index)) for index in range(len(screenplay.scenes)))


def timed(work, repeat: int) -> list[float]:
    work()  # warm-up: regular expressions compile, caches fill
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def profile(text: str) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(read_and_storyboard, text)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


def make_script(rng: random.Random, scenes: int) -> str:
    """Title page, then scenes of action paragraphs and exchanges between two or three people."""
    parts = [
        "Title: THE LONG NIGHT\nCredit: Written by\nAuthor: Bench Mark\nDraft date: 1 May 2025"
    ]
    for number in range(1, scenes + 1):
        parts.append(make_scene(rng, number))
    parts.append("> FADE OUT.")
    return "\n\n".join(parts) + "\n"


def make_scene(rng: random.Random, number: int) -> str:
    prefix = rng.choice(["INT.", "INT.", "EXT.", "INT./EXT."])
    blocks = [f"{prefix} {rng.choice(PLACES)} - {rng.choice(TIMES)} #{number}#"]
    cast = rng.sample(CAST, rng.choice([2, 2, 3]))
    for _ in range(rng.randint(2, 4)):
        blocks.append(make_action(rng, cast))
        for _ in range(rng.randint(2, 5)):
            blocks.append(make_speech(rng, rng.choice(cast)))
    if rng.random() < 0.4:
        blocks.append(rng.choice(TRANSITIONS))
    return "\n\n".join(blocks)


def make_action(rng: random.Random, cast: list[str]) -> str:
    sentences = []
    for _ in range(rng.randint(1, 4)):
        name, other = rng.sample(cast, 2)
        subject = rng.choice(SUBJECTS).format(name=name.title(), other=other)
        tail = rng.choice(TAILS).format(pronoun=rng.choice(["she", "he"]))
        sentences.append(f"{subject}, {tail}.")
    return " ".join(sentences)


def make_speech(rng: random.Random, speaker: str) -> str:
    rows = [speaker + (" (CONT'D)" if rng.random() < 0.1 else "")]
    if rng.random() < 0.3:
        rows.append(rng.choice(ASIDES))
    rows.append(" ".join(rng.choice(LINES) for _ in range(rng.randint(1, 3))))
    return "\n".join(rows)


def report(args, screenplay, lines: int, panels: int, fountain_ms, fdx_ms) -> None:
    print(f"\nparse_fountain + breakdown + beats of every scene ({panels} panels):")
    print(f"  {'best':<24}{min(fountain_ms):>10.1f} ms")
    print(f"  {f'median of {len(fountain_ms)}':<24}{statistics.median(fountain_ms):>10.1f} ms")
    print("parse_fdx of the same script:")
    print(f"  {'best':<24}{min(fdx_ms):>10.1f} ms")
    print(f"  {f'median of {len(fdx_ms)}':<24}{statistics.median(fdx_ms):>10.1f} ms")
    print(f"  limit {args.limit_ms:.0f} ms each")
    print(json.dumps({
        "script_pages": round(lines / LINES_PER_PAGE),
        "script_scenes": len(screenplay.scenes),
        "script_elements": len(screenplay.elements),
        "script_panels": panels,
        "script_fountain_ms": round(min(fountain_ms), 1),
        "script_fountain_median_ms": round(statistics.median(fountain_ms), 1),
        "script_fdx_ms": round(min(fdx_ms), 1),
        "script_fdx_median_ms": round(statistics.median(fdx_ms), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
