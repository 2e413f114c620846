"""Reading Fountain (https://fountain.io/syntax) into elements with their source lines.

Two passes. The first cuts out the boneyard (/* */) and lifts out notes ([[ ]]) while keeping
every remaining line under its source line number; a line that held only a note becomes a note
line. The second reads paragraphs with a small state machine.

Where Slate is more forgiving than the 1.1 spec, because writers' files are:
- A scene heading needs a blank line before it; the blank line after it is needed only when the
  heading is not written in capitals ("INT. DINER - NIGHT" directly followed by action is a
  heading; "Int. design was his thing." followed by more action is not).
- A transition ("CUT TO:") and a scene heading always stand alone: the next line starts a new
  paragraph even without a blank line, and so does an upper-case line ending in ":" ("FADE IN:").
- A note line inside a paragraph ends that paragraph (writers put [[panel]] between two lines to
  cut there); inside a speech the speech goes on after it.
- Lines starting with #, =, ~, > (and ===) are read wherever they are, so they end an action
  paragraph they are glued to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .breakdown import HEADING_RE, assemble
from .emphasis import plain
from .model import Element, Screenplay

_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_NOTE_BREAK_RE = re.compile(r"\n(?!  \n)[ \t]*\n")  # a blank line that is not two spaces
# Stand-ins left by the first pass: \x00 where boneyard was, \x01<n>\x01 for the n-th note,
# \x03 on a line a note ran through.
_MARKS_RE = re.compile(r"\x00|\x03|\x01\d+\x01")
_NOTE_MARK_RE = re.compile(r"\x01(\d+)\x01")
_SCENE_NUMBER_RE = re.compile(r"[\w.\-]+")
_CUE_RE = re.compile(r"(?P<name>[^(^]*?)\s*(?P<ext>(?:\([^()]*\)\s*)*)(?P<dual>\^)?\s*$")
_EXTENSION_RE = re.compile(r"\(([^()]*)\)")
_PAGE_BREAK_RE = re.compile(r"={3,}")
_TITLE_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9 '_-]{0,40}?)\s*:(.*)")
# Longer lines are never cues (and the cue pattern need not look at a 100 KB line).
MAX_CUE_CHARS = 120
# A first paragraph is a title page only when it names one of these keys: an action line such
# as "As she runs: a truck tips over." is not one.
TITLE_KEYS = frozenset(
    ["title", "credit", "author", "authors", "source", "draft date", "date", "contact",
     "contact info", "copyright", "notes", "revision", "episode", "series", "format"]
)  # fmt: skip


@dataclass
class _Line:
    number: int
    text: str
    notes: list[str] = field(default_factory=list)  # inline notes, or the note line's notes
    note_last: int = 0  # set on a line that held only notes: the last line they ran to

    @property
    def is_note(self) -> bool:
        return self.note_last > 0

    @property
    def is_blank(self) -> bool:
        return not self.note_last and not self.text.strip()


def parse_fountain(text: str) -> Screenplay:
    lines = source_lines(text)
    title_page, title_elements, start = _title_page(lines)
    elements = title_elements + _Reader(lines, start).read()
    for element in elements:
        element.text = plain(element.markup)
    return assemble(title_page, elements)


def source_lines(text: str) -> list[_Line]:
    """The script's lines under their source numbers, boneyard cut out and notes lifted."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = _NEWLINE_RE.sub("\n", re.sub(r"[\x00\x01\x03]", "", text))
    text = _cut_boneyard(text)
    notes: list[tuple[str, int]] = []
    text = _lift_notes(text, notes)
    lines = []
    for number, raw in enumerate(text.split("\n"), 1):
        if "\x00" not in raw and "\x01" not in raw and "\x03" not in raw:
            lines.append(_Line(number, raw))
            continue
        found = [notes[int(index)] for index in _NOTE_MARK_RE.findall(raw)]
        rest = _MARKS_RE.sub("", raw)
        if rest.strip():
            lines.append(_Line(number, rest, [note for note, _ in found]))
        elif found:
            last = number + max(newlines for _, newlines in found)
            lines.append(_Line(number, "", [note for note, _ in found], note_last=last))
    return lines


def _cut_boneyard(text: str) -> str:
    """Each /* ... */ becomes \x00 on every line it touched; an unclosed /* stays text."""
    pieces, position = [], 0
    while (start := text.find("/*", position)) >= 0:
        end = text.find("*/", start + 2)
        if end < 0:
            break
        pieces.append(text[position:start] + "\x00" + "\n\x00" * text.count("\n", start, end))
        position = end + 2
    pieces.append(text[position:])
    return "".join(pieces)


def _lift_notes(text: str, notes: list[tuple[str, int]]) -> str:
    pieces, position, end = [], 0, -1
    while (start := text.find("[[", position)) >= 0:
        if end < start:  # the closing "]]" found for an earlier "[[" may still be the next one
            end = text.find("]]", start + 2)
            if end < 0:
                break
        blank = _NOTE_BREAK_RE.search(text, start + 2, end)
        if blank:
            # The spec: a blank line ends a note unless it holds two spaces. What opened before
            # the blank line stays text; look again after it.
            pieces.append(text[position : blank.start() + 1])
            position = blank.start() + 1
            continue
        content = text[start + 2 : end]
        newlines = content.count("\n")
        note = "\n".join(line.strip() for line in content.split("\n")).strip()
        notes.append((note, newlines))
        pieces.append(text[position:start] + f"\x01{len(notes) - 1}\x01" + "\n\x03" * newlines)
        position = end + 2
    pieces.append(text[position:])
    return "".join(pieces)


def _title_page(lines: list[_Line]) -> tuple[list[tuple[str, str]], list[Element], int]:
    index = 0
    while index < len(lines) and lines[index].is_blank:
        index += 1
    entries: list[Element] = []
    while index < len(lines) and not lines[index].is_blank:
        line = lines[index]
        index += 1
        if line.is_note:
            continue
        match = _TITLE_KEY_RE.fullmatch(line.text)
        if line.text[:1] in (" ", "\t") and entries:
            entries[-1].markup = (entries[-1].markup + "\n" + line.text.strip()).strip("\n")
            entries[-1].last_line = line.number
        elif match and not line.text[:1].isspace():
            key, value = match.group(1).strip(), match.group(2).strip()
            entries.append(Element("title", "", line.number, line.number, markup=value, key=key))
        else:
            return [], [], 0
    if not any(entry.key.casefold() in TITLE_KEYS for entry in entries):
        return [], [], 0
    return [(entry.key, plain(entry.markup)) for entry in entries], entries, index


class _Reader:
    """Reads the body paragraph by paragraph into elements (markup only; text comes after)."""

    def __init__(self, lines: list[_Line], start: int):
        self.lines = lines
        self.i = start
        self.out: list[Element] = []

    def read(self) -> list[Element]:
        after_blank = True
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.is_note:
                self._notes(line)
            elif line.is_blank:
                after_blank = True
                self.i += 1
            else:
                after_blank = self._paragraph(line, line.text.strip(), after_blank)
        return self.out

    def _emit(self, kind: str, markup: str, first: int, last: int, **fields) -> Element:
        fields["notes"] = list(fields.get("notes", ()))  # never share a line's list
        element = Element(kind, "", first, last, markup=markup, **fields)
        self.out.append(element)
        return element

    def _notes(self, line: _Line) -> None:
        for note in line.notes:
            self._emit("note", note, line.number, line.note_last)
        self.i += 1

    def _next_is_blank(self) -> bool:
        """Whether the line after the current one is blank (note lines are looked past)."""
        for index in range(self.i + 1, len(self.lines)):  # no slice: that would copy the script
            if not self.lines[index].is_note:
                return self.lines[index].is_blank
        return True

    def _paragraph(self, line: _Line, stripped: str, after_blank: bool) -> bool:
        """Read what starts at this line; True when the next line may start a paragraph."""
        if stripped.startswith("!"):
            self._action(line)
            return False
        if marker_kind(stripped):
            self._marked(line, stripped)
            return True
        if after_blank:
            if self._heading(line, stripped):
                return True
            if is_transition(stripped):
                self._emit("transition", stripped, line.number, line.number, notes=line.notes)
                self.i += 1
                return True
            if self._speech(line, stripped):
                return False
            if stripped.endswith(":") and stripped.upper() == stripped:  # "FADE IN:"
                self._emit("action", line.text.rstrip(), line.number, line.number, notes=line.notes)
                self.i += 1
                return True
        self._action(line)
        return False

    def _heading(self, line: _Line, stripped: str) -> bool:
        forced = len(stripped) > 1 and stripped[0] == "." and stripped[1].isalnum()
        if not forced and not (
            HEADING_RE.match(stripped) and (stripped.upper() == stripped or self._next_is_blank())
        ):
            return False
        markup, number = scene_number(stripped[1:].strip() if forced else stripped)
        self._emit("heading", markup, line.number, line.number, notes=line.notes, forced=forced,
                   scene_number=number)  # fmt: skip
        self.i += 1
        return True

    def _marked(self, line: _Line, stripped: str) -> None:
        kind = marker_kind(stripped)
        if kind in ("centered", "lyric", "synopsis"):
            self._group(kind)
        elif kind == "page_break":
            self._emit("page_break", "", line.number, line.number, notes=line.notes)
            self.i += 1
        elif kind == "section":
            title = stripped.lstrip("#")
            closing = title.rstrip("#")  # "## Sequence ##": the closing hashes are decoration
            if closing != title and closing[-1:].isspace():
                title = closing
            self._emit("section", title.strip(), line.number, line.number, notes=line.notes,
                       depth=len(stripped) - len(stripped.lstrip("#")))  # fmt: skip
            self.i += 1
        else:  # a forced transition
            self._emit("transition", stripped[1:].strip(), line.number, line.number,
                       notes=line.notes, forced=True)  # fmt: skip
            self.i += 1

    def _group(self, kind: str, character: str = "", dual: bool = False) -> None:
        """Consecutive centered, lyric or synopsis lines make one element."""
        rows, notes, first = [], [], self.lines[self.i].number
        while self.i < len(self.lines):
            line = self.lines[self.i]
            stripped = line.text.strip()
            if line.is_note or line.is_blank or marker_kind(stripped) != kind:
                break
            rows.append(_unmark(kind, stripped))
            notes += line.notes
            last = line.number
            self.i += 1
        self._emit(kind, "\n".join(rows), first, last, notes=notes, character=character,
                   dual=dual, forced=kind == "lyric")  # fmt: skip

    def _action(self, line: _Line) -> None:
        rows, notes, first, last = [], [], line.number, line.number
        forced = line.text.lstrip().startswith("!")
        while self.i < len(self.lines):
            line = self.lines[self.i]
            stripped = line.text.strip()
            if line.is_note or line.is_blank or (rows and marker_kind(stripped)):
                break
            text = line.text.lstrip()[1:] if stripped.startswith("!") else line.text
            rows.append(text.replace("\t", "    ").rstrip())
            notes += line.notes
            last = line.number
            self.i += 1
        self._emit("action", "\n".join(rows), first, last, notes=notes, forced=forced)

    def _speech(self, line: _Line, stripped: str) -> bool:
        cue = parse_cue(stripped)
        if cue is None or (not cue.forced and self._next_is_blank()):
            return False
        self._emit("character", cue.text, line.number, line.number, notes=line.notes,
                   character=cue.character, extension=cue.extension, dual=cue.dual,
                   forced=cue.forced)  # fmt: skip
        self.i += 1
        speech = {"character": cue.character, "dual": cue.dual}
        dialogue: Element | None = None  # the dialogue element still taking lines
        while self.i < len(self.lines):
            line = self.lines[self.i]
            stripped = line.text.strip()
            if line.is_note:
                self._notes(line)
                dialogue = None
            elif line.text == "  ":  # two spaces: a blank line the writer wants in the speech
                dialogue = self._dialogue(dialogue, line, "", speech)
            elif not stripped:
                break
            elif stripped.startswith("("):
                self._parenthetical(speech)
                dialogue = None
            elif stripped.startswith("~"):
                self._group("lyric", **speech)
                dialogue = None
            else:
                dialogue = self._dialogue(dialogue, line, stripped, speech)
        return True

    def _dialogue(self, dialogue: Element | None, line: _Line, row: str, speech) -> Element:
        self.i += 1
        if dialogue is None:
            return self._emit("dialogue", row, line.number, line.number, notes=line.notes, **speech)
        dialogue.markup += "\n" + row
        dialogue.last_line = line.number
        dialogue.notes += line.notes
        return dialogue

    def _parenthetical(self, speech) -> None:
        """One line, or several until the one that closes the parenthesis."""
        rows, notes, first = [], [], self.lines[self.i].number
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.is_note or line.is_blank or line.text == "  ":
                break
            rows.append(line.text.strip())
            notes += line.notes
            last = line.number
            self.i += 1
            if rows[-1].endswith(")"):
                break
        self._emit("parenthetical", "\n".join(rows), first, last, notes=notes, **speech)


def scene_number(heading: str) -> tuple[str, str]:
    """("INT. HOUSE - DAY", "1A") from "INT. HOUSE - DAY #1A#"; the number is "" when none."""
    if not heading.endswith("#"):
        return heading, ""
    start = heading.rfind("#", 0, len(heading) - 1)
    number = heading[start + 1 : -1]
    if start < 0 or not _SCENE_NUMBER_RE.fullmatch(number):
        return heading, ""
    return heading[:start].rstrip(), number


def marker_kind(stripped: str) -> str:
    """The kind a line's leading marker makes it, wherever the line is; "" for none."""
    if not stripped:
        return ""
    first = stripped[0]
    if first == "=":
        return "page_break" if _PAGE_BREAK_RE.fullmatch(stripped) else "synopsis"
    if first == "#":
        return "section"
    if first == "~":
        return "lyric"
    if first == ">":
        return "centered" if stripped.endswith("<") and len(stripped) > 1 else "transition"
    return ""


def _unmark(kind: str, stripped: str) -> str:
    return stripped[1:-1].strip() if kind == "centered" else stripped[1:].strip()


def is_transition(stripped: str) -> bool:
    return stripped.endswith("TO:") and stripped.upper() == stripped


@dataclass
class Cue:
    text: str  # as written, without @ and ^
    character: str  # the speaker, normalized
    extension: str
    dual: bool
    forced: bool


def parse_cue(stripped: str) -> Cue | None:
    """A character cue ("MARA (V.O.) ^", "@McCLANE"), or None when the line is not one."""
    if len(stripped) > MAX_CUE_CHARS:
        return None
    forced = stripped.startswith("@")
    body = stripped[1:].strip() if forced else stripped
    match = _CUE_RE.match(body)
    name = match.group("name").strip() if match else ""
    if not name or name.endswith(":"):
        return None
    if not forced and (name.upper() != name or not any(c.isalpha() for c in name)):
        return None
    extensions = [" ".join(part.split()) for part in _EXTENSION_RE.findall(match.group("ext"))]
    text = body[: match.start("dual")].rstrip() if match.group("dual") else body
    return Cue(
        text=" ".join(text.split()),
        character=" ".join(name.upper().split()),
        extension=" ".join(part for part in extensions if part),
        dual=bool(match.group("dual")),
        forced=forced,
    )
