"""Writing a screenplay back as Fountain that reads back to the same elements.

Each element is written in its plain form unless the reader would take that form for something
else; then it gets Fountain's forcing marker: "." for a heading that is not INT/EXT, "!" for
action that looks like a heading, a cue or a marked line, "@" for a cue not in capitals (or
without dialogue), ">" for a transition not ending in "TO:".
"""

from __future__ import annotations

from .breakdown import HEADING_RE
from .emphasis import escape
from .fountain import _TITLE_KEY_RE, is_transition, marker_kind, parse_cue
from .model import SPEECH_KINDS, Element, Screenplay


def to_fountain(screenplay: Screenplay) -> str:
    return write_fountain(screenplay)[0]


def write_fountain(screenplay: Screenplay) -> tuple[str, list[tuple[int, int]]]:
    """The Fountain text, and the (first_line, last_line) it gives each element."""
    out: list[str] = []
    spans: list[tuple[int, int]] = [(0, 0)] * len(screenplay.elements)
    title_spans = _title_page(screenplay.title_page, out)
    body = [(i, e) for i, e in enumerate(screenplay.elements) if e.kind != "title"]
    title_indexes = [i for i, e in enumerate(screenplay.elements) if e.kind == "title"]
    for index, span in zip(title_indexes, title_spans, strict=False):
        spans[index] = span
    in_speech = False
    for position, (index, element) in enumerate(body):
        following = body[position + 1][1] if position + 1 < len(body) else None
        joined = in_speech and _continues_speech(element, following)
        if out and not joined:
            out.append("")
        first = len(out) + 1
        out.extend(_with_notes(_rows(element, following), element.notes))
        spans[index] = (first, len(out))
        in_speech = element.kind == "character" or joined
    return "\n".join(out) + "\n", spans


def _title_page(title_page: list[tuple[str, str]], out: list[str]) -> list[tuple[int, int]]:
    spans = []
    for key, value in title_page:
        first = len(out) + 1
        rows = value.split("\n")
        if len(rows) == 1:
            out.append(f"{key}: {value}".rstrip())
        else:
            out.append(f"{key}:")
            out.extend(f"    {row}" for row in rows)
        spans.append((first, len(out)))
    return spans


def _continues_speech(element: Element, following: Element | None) -> bool:
    if element.kind in SPEECH_KINDS:
        return element.kind != "lyric" or bool(element.character)
    # A note between two parts of a speech stays inside it.
    return element.kind == "note" and following is not None and _continues_speech(following, None)


def _with_notes(rows: list[str], notes: list[str]) -> list[str]:
    if notes:
        rows[-1] = " ".join([rows[-1], *(f"[[{note}]]" for note in notes)]).lstrip()
    return rows


def _markup(element: Element) -> str:
    return element.markup or escape(element.text)


def _rows(element: Element, following: Element | None) -> list[str]:
    kind, markup = element.kind, _markup(element)
    rows = markup.split("\n")
    if kind == "heading":
        number = f" #{element.scene_number}#" if element.scene_number else ""
        return [("" if HEADING_RE.match(markup) else ".") + markup + number]
    if kind == "action":
        return _action_rows(rows)
    if kind == "character":
        return [_cue(element, following)]
    if kind == "parenthetical":
        return rows if markup.startswith("(") else [f"({markup})"]
    if kind == "dialogue":
        return [row or "  " for row in rows]
    if kind == "transition":
        plain_form = is_transition(markup) and not HEADING_RE.match(markup)
        return [markup if plain_form else f"> {markup}"]
    if kind == "centered":
        return [f"> {row} <" for row in rows]
    if kind == "lyric":
        return [f"~{row}" for row in rows]
    if kind == "section":
        return ["#" * max(element.depth, 1) + f" {markup}"]
    if kind == "synopsis":
        return [f"= {row}" for row in rows]
    if kind == "note":
        if len(rows) == 1:
            return [f"[[{markup}]]"]
        # A blank line would end the note: two spaces keep it open (Fountain's rule).
        return [f"[[{rows[0]}", *(row or "  " for row in rows[1:-1]), f"{rows[-1]}]]"]
    if kind == "page_break":
        return ["==="]
    return rows


def _action_rows(rows: list[str]) -> list[str]:
    first = rows[0].strip()
    # A capitals line with more lines under it would read as a cue, or as "FADE IN:" on its own.
    capitals = len(rows) > 1 and (parse_cue(first) is not None or first.endswith(":"))
    misread = (
        first.startswith(("!", ".", "@"))
        or marker_kind(first)
        or HEADING_RE.match(first)
        or is_transition(first)
        or _TITLE_KEY_RE.fullmatch(first)
        or capitals
    )
    written = [f"!{rows[0]}" if misread else rows[0]]
    for row in rows[1:]:
        stripped = row.strip()
        written.append(f"!{row}" if stripped.startswith("!") or marker_kind(stripped) else row)
    return written


def _cue(element: Element, following: Element | None) -> str:
    text = element.text
    cue = parse_cue(text)
    plain_form = (
        cue is not None
        and not HEADING_RE.match(text)
        and not is_transition(text)
        and not marker_kind(text)
        and not text.startswith(("!", ".", "@"))
        and following is not None
        and following.kind in SPEECH_KINDS
    )
    dual = " ^" if element.dual else ""
    return (text if plain_form else f"@{text}") + dual
