"""docs/events.md and the README's event list, written from the catalogue in studio/events.py.

`manage.py events_doc` rewrites both; tests/test_events.py fails when either is out of step.
"""

from pathlib import Path

from .events import CATALOGUE, REGIONS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "events.md"
README = ROOT / "README.md"
START, END = "<!-- events:start (manage.py events_doc) -->", "<!-- events:end -->"

PROTOCOL = """# Live events

Generated from the catalogue in `studio/events.py` by `manage.py events_doc`; do not edit by hand.

Everyone watching a storyboard hears every change to it, over one of two sockets:

- `ws://…/ws/storyboards/{id}/events` for scripts: `Authorization: Bearer <token>`; one JSON
  object per message, `{"type": "<event>", "seq": n, "storyboard": id, "ts": …, …payload}`.
- `ws://…/ws/storyboards/{id}/live` for the storyboard page (session cookie, same-origin
  `Origin`): HTML fragments that htmx swaps out of band, by element id. Each event starts with a
  marker, `<!--n-->` (durable) or `<!--~n-->` (transient), then the fragments of the regions it
  refreshes, rendered once for editors and once for viewers.

## Numbers, gaps and resync

- Every storyboard numbers its **durable** events 1, 2, 3… (a change of state: a panel, a
  comment, a take's status). Numbering and publishing happen in one Redis script, so every
  socket sees the numbers in order, whichever web process or worker sent them.
- **Transient** events (progress, previews, queue positions) carry the current number without
  taking one. They may be coalesced: a socket that falls behind gets a take's newest progress,
  not the backlog.
- On connect the socket says `{"type": "hello", "storyboard": id, "seq": n}`, and every 15 s
  `{"type": "ping", "seq": n}`. The page renders with the number it was read at (`data-seq`).
- **A client is in step** when each durable event is its last number + 1, each transient event
  and each hello/ping equals its last number. Anything else (a jump, a number going back after
  Redis was emptied, `{"type": "resync"}` sent to a socket that fell too far behind) means
  something was missed: re-read the state and carry on from the number it was read at. The page
  does this itself (it fetches the board and morphs it in place, holding events that arrive
  meanwhile); a script re-reads `GET /api/storyboards/{id}` (panels) and
  `GET /api/panels/{id}/takes` / `…/comments` for what it follows.
- If a web process loses Redis it closes its sockets with code **4012**; a socket whose reader
  stopped reading (4 MB waiting in the server) is closed with **4013**. Reconnect after a short,
  random pause and resync from the hello; while Redis is away, new sockets are refused.
- Events leave only when the transaction that made them commits. Short-lived events that belong
  to no transaction (presence, next) use `studio.events.publish_now`: transient, never waited for.

"""


def render_doc() -> str:
    rows = [
        "## Events",
        "",
        "| event | kind | payload | refreshes | what happened |",
        "|---|---|---|---|---|",
    ]
    for e in CATALOGUE.values():
        payload = ", ".join(f"`{f}`" for f in e.fields)
        regions = ", ".join(f"`{r}`" for r in e.regions) or "—"
        kind = "transient" if e.transient else "durable"
        rows.append(f"| `{e.name}` | {kind} | {payload} | {regions} | {e.doc} |")
    rows += ["", "Every payload also has `storyboard` and `ts` (the sender's clock, for latency probes).",
             "", "## Page regions", "", "| region | one per | differs by role | what |", "|---|---|---|---|"]  # fmt: skip
    for r in REGIONS.values():
        rows.append(f"| `{r.name}` | `{r.key}` | {'yes' if r.by_role else 'no'} | {r.doc} |")
    return PROTOCOL + "\n".join(rows) + "\n"


def render_readme_list() -> str:
    names = ", ".join(f"`{name}`" for name in CATALOGUE)
    return f"{START}\nEvents ({len(CATALOGUE)}): {names}. Payloads, numbering and resync: [docs/events.md](docs/events.md).\n{END}"


def readme_with_list(text: str) -> str:
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    return before + render_readme_list() + after


def write() -> None:
    DOC.write_text(render_doc())
    README.write_text(readme_with_list(README.read_text()))
