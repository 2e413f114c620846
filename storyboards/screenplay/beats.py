"""Beats: the panels Slate suggests when a scene is storyboarded.

The writer's breaks rule. When the scene holds [[panel]] markers (a note reading "panel",
"panel: ..." or "panel ..."), the scene is cut at each: a marker on its own line starts the
next beat and its text is that beat's note; a marker inline at the end of an element ends the
beat holding that element and is that beat's note. What comes before the first marker is the
first beat (an establishing one when it is all action). A note naming a shot ("CU",
"close-up", "wide", "OTS", "insert", "POV", "ECU"...) sets the beat's shot type.

Without markers:
- the first beat establishes the place: extreme wide ("ews") for EXT and EST, wide ("ws")
  otherwise; when the scene opens with action, that paragraph is its action;
- each further action paragraph is a beat: the shot its first words call for ("INSERT",
  "CLOSE ON", "POV", "WIDE", "ANGLE ON"...), else wide when two or more known characters are
  in it or something moves (runs, enters, drives...), insert when it is short (12 words or
  fewer) and names nobody, medium ("ms") otherwise;
- speeches go in pairs, A then B, as an over-the-shoulder ("ots") beat; a speech longer than
  4 typeset lines of dialogue is a close-up ("cu") of its own; a speech left alone is a medium
  close-up ("mcu"); a dual-dialogue pair is one medium shot.
Transitions, notes, sections, synopses and page breaks are never beats, nor is action that is
only a transition ("FADE IN:", "FADE OUT.").

A beat lasts as long as its elements would play by the page-timing rule (see breakdown.py),
an establishing beat at least 3 s, each clamped to 1-20 s and rounded to 100 ms.
"""

from __future__ import annotations

import re

from .breakdown import (
    DIALOGUE_WIDTH,
    SECONDS_PER_LINE,
    element_lines,
    mention_finder,
    title_cased,
    wrapped_lines,
)
from .model import SPEECH_KINDS, Beat, Element, SceneInfo, Screenplay

ESTABLISHING_SECONDS = 3.0
LONG_SPEECH_LINES = 4
MIN_BEAT_MS, MAX_BEAT_MS = 1_000, 20_000
SHORT_ACTION_WORDS = 12
PROMPT_ACTION_CHARS = 200
PROMPT_LIMIT = 300
SHOT_NAMES = {
    "ews": "Extreme wide shot",
    "ws": "Wide shot",
    "fs": "Full shot",
    "ms": "Medium shot",
    "mcu": "Medium close-up",
    "cu": "Close-up",
    "ecu": "Extreme close-up",
    "ots": "Over-the-shoulder shot",
    "pov": "Point-of-view shot",
    "insert": "Insert shot",
}
_SETTINGS = {
    "INT": "Interior",
    "EXT": "Exterior",
    "EST": "Exterior",
    "INT/EXT": "Interior and exterior",
}

_PANEL_RE = re.compile(r"panel\b\s*[:\-\u2013\u2014]?\s*(.*)", re.IGNORECASE | re.DOTALL)
_NAMED_SHOTS = [  # most specific first: "extreme close-up" before "close-up"
    ("ecu", r"ecu|extreme close[- ]?up|extreme close"),
    ("mcu", r"mcu|medium close[- ]?up"),
    ("cu", r"cu|close[- ]?up|close on"),
    ("ews", r"ews|extreme wide|establishing"),
    ("ots", r"ots|over[- ]the[- ]shoulder"),
    ("pov", r"pov|point[- ]of[- ]view"),
    ("insert", r"insert"),
    ("ws", r"ws|wide"),
    ("fs", r"fs|full shot"),
    ("ms", r"ms|medium|angle on"),
]
_NAMED_SHOT_RES = [
    (shot, re.compile(rf"\b(?:{words})\b", re.IGNORECASE)) for shot, words in _NAMED_SHOTS
]
_CAMERA_CUE_RE = re.compile(
    r"(INSERT|EXTREME CLOSE|CLOSE ON|CLOSE-UP|CLOSE UP|ANGLE ON|WIDE|OVER THE SHOULDER|"
    r"[A-Z' ]*\bPOV|ESTABLISHING)\b"
)
_MOVEMENT_RE = re.compile(
    r"\b(runs?|running|walks?|walking|enters?|exits?|cross(?:es)?|drives?|driving|chases?|"
    r"races?|rush(?:es)?|falls?|jumps?|dives?|climbs?|bursts?|sprints?|flies|crash(?:es)?|"
    r"arrives?|leaves|storms?|steps?|rolls?|charges?|speeds?|swims?)\b",
    re.IGNORECASE,
)
_PEOPLE_RE = re.compile(
    r"\b(he|she|they|him|her|his|hers|their|them|man|woman|men|women|boy|girl|kids?|people|"
    r"crowd|everyone|someone)\b",
    re.IGNORECASE,
)
_TRANSITIONAL_RE = re.compile(
    r"(FADE (IN|OUT|TO BLACK)|CUT TO BLACK|SMASH CUT|THE END|END|BLACKOUT|BLACK)[.:!]?"
)
_CAPITALS_RE = re.compile(r"\b[A-Z][A-Z0-9'\-.]*[A-Z0-9](?:[ ]+[A-Z][A-Z0-9'\-.]*[A-Z0-9])*\b")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")


def beats(screenplay: Screenplay, scene_index: int) -> list[Beat]:
    scene = screenplay.scenes[scene_index]
    elements = screenplay.elements[scene.start : scene.end]
    shots = _Shots(scene, elements[0], screenplay.speakers)
    body = elements[1:]
    if any(_is_marker(element) for element in body):
        return _marked_beats(shots, body)
    return _suggested_beats(shots, body)


def panel_note(note: str) -> str | None:
    """The text of a [[panel]] marker ("" for a bare one), or None when the note is not one."""
    match = _PANEL_RE.fullmatch(note.strip())
    return match.group(1).strip() if match else None


def _is_marker(element: Element) -> bool:
    notes = [element.text] if element.kind == "note" else element.notes
    return any(panel_note(note) is not None for note in notes)


def named_shot(text: str) -> str:
    """The shot type a note names ("CU on the gun" -> "cu"), or ""."""
    for shot, pattern in _NAMED_SHOT_RES:
        if pattern.search(text):
            return shot
    return ""


# -- grouping ---------------------------------------------------------------------------------


def _units(elements: list[Element]) -> list[tuple[str, list[Element]]]:
    """("action", [paragraph]) and ("speech", [cue, parenthetical, dialogue...]) in order."""
    units: list[tuple[str, list[Element]]] = []
    for element in elements:
        if element.kind in ("action", "centered"):
            if not _TRANSITIONAL_RE.fullmatch(element.text.strip()):
                units.append(("action", [element]))
        elif element.kind == "character":
            units.append(("speech", [element]))
        elif element.kind in SPEECH_KINDS and element.character and units:
            kind, speech = units[-1]
            if kind == "speech" and speech[0].character == element.character:
                speech.append(element)
    return units


def _suggested_beats(shots: _Shots, body: list[Element]) -> list[Beat]:
    units = _units(body)
    opening = units.pop(0)[1] if units and units[0][0] == "action" else []
    found = [shots.beat("establishing", [shots.heading, *opening], shots.establishing())]
    index = 0
    while index < len(units):
        if units[index][0] == "action":
            found.append(shots.action_beat(units[index][1]))
            index += 1
            continue
        end = index
        while end < len(units) and units[end][0] == "speech":
            end += 1
        found.extend(_exchange(shots, [speech for _, speech in units[index:end]]))
        index = end
    return found


def _exchange(shots: _Shots, speeches: list[list[Element]]) -> list[Beat]:
    """Speeches paired A-B over the shoulder; long ones and lone ones on their own."""
    found, index = [], 0
    while index < len(speeches):
        first = speeches[index]
        second = speeches[index + 1] if index + 1 < len(speeches) else None
        if second is not None and second[0].dual:
            group, shot = [first, second], "ms"
        elif _is_long(first):
            group, shot = [first], "cu"
        elif (
            second is not None
            and second[0].character != first[0].character
            and not _is_long(second)
        ):
            group, shot = [first, second], "ots"
        else:
            group, shot = [first], "mcu"
        found.append(shots.beat("dialogue", [e for speech in group for e in speech], shot))
        index += len(group)
    return found


def _is_long(speech: list[Element]) -> bool:
    lines = sum(wrapped_lines(e.text, DIALOGUE_WIDTH) for e in speech if e.kind == "dialogue")
    return lines > LONG_SPEECH_LINES


def _marked_beats(shots: _Shots, body: list[Element]) -> list[Beat]:
    segments: list[tuple[list[Element], str]] = [([], "")]
    for element in body:
        if element.kind == "note" and panel_note(element.text) is not None:
            segments.append(([], panel_note(element.text)))
            continue
        segments[-1][0].append(element)
        inline = [n for n in map(panel_note, element.notes) if n is not None]
        if inline:
            segment, note = segments[-1]
            segments[-1] = (segment, note or inline[-1])
            segments.append(([], ""))
    found = []
    for position, (segment, note) in enumerate(segments):
        units = _units(segment)
        if not units:
            continue
        chosen = [element for _, unit in units for element in unit]
        speeches = [unit for kind, unit in units if kind == "speech"]
        if position == 0 and not speeches:
            found.append(shots.beat("establishing", [shots.heading, *chosen],
                                    named_shot(note) or shots.establishing(), note))  # fmt: skip
        elif len(speeches) < len(units):
            text = "\n\n".join(e.text for e in chosen if e.kind in ("action", "centered"))
            found.append(
                shots.beat("action", chosen, named_shot(note) or shots.action_shot(text), note)
            )
        else:
            found.append(
                shots.beat("dialogue", chosen, named_shot(note) or _speech_shot(speeches), note)
            )
    return found


def _speech_shot(speeches: list[list[Element]]) -> str:
    if any(speech[0].dual for speech in speeches[1:]):
        return "ms"
    if len({speech[0].character for speech in speeches}) > 1:
        return "ots"
    return "cu" if any(_is_long(speech) for speech in speeches) else "mcu"


# -- one beat ---------------------------------------------------------------------------------


class _Shots:
    """What every beat of one scene shares: its heading, place and cast."""

    def __init__(self, scene: SceneInfo, heading: Element, speakers: list[str]):
        self.scene = scene
        self.heading = heading
        self.caps_mentions = mention_finder(speakers)
        self.any_mentions = mention_finder(speakers, title_case=True)
        place = [_soften(part, self.caps_mentions) for part in (scene.location, scene.time_of_day)]
        self.place = ", ".join(part for part in place if part)
        self.setting = ", ".join(
            part for part in (_SETTINGS.get(scene.int_ext, ""), self.place) if part
        )
        self.setting = self.setting[:1].upper() + self.setting[1:]

    def establishing(self) -> str:
        if self.heading.forced and (shot := named_shot(self.heading.text)):
            return shot  # ".SNIPER SCOPE POV"
        return "ews" if self.scene.int_ext in ("EXT", "EST") else "ws"

    def action_shot(self, text: str) -> str:
        cue = _CAMERA_CUE_RE.match(text)
        if cue:
            return named_shot(cue.group(1)) or "ms"
        people = set(self.any_mentions(text))
        if len(people) >= 2 or _MOVEMENT_RE.search(text):
            return "ws"
        if len(text.split()) <= SHORT_ACTION_WORDS and not people and not _PEOPLE_RE.search(text):
            return "insert"
        return "ms"

    def action_beat(self, paragraph: list[Element]) -> Beat:
        return self.beat("action", paragraph, self.action_shot(paragraph[0].text))

    def beat(self, kind: str, elements: list[Element], shot: str, note: str = "") -> Beat:
        action = "\n\n".join(e.text for e in elements if e.kind in ("action", "centered"))
        characters: list[str] = []
        for element in elements:
            if element.kind == "character":
                characters.append(element.character)
            elif element.kind in ("action", "centered"):
                characters.extend(self.caps_mentions(element.text))
        seconds = sum(element_lines(e) for e in elements) * SECONDS_PER_LINE
        if kind == "establishing":
            seconds = max(ESTABLISHING_SECONDS, seconds)
        speakers = [e for e in elements if e.kind == "character"]
        return Beat(
            kind=kind,
            element_ids=[e.id for e in elements],
            first_line=min(e.first_line for e in elements),
            last_line=max(e.last_line for e in elements),
            action=action,
            dialogue=dialogue_text(elements),
            characters=list(dict.fromkeys(characters)),
            shot_type=shot,
            duration_ms=_milliseconds(seconds),
            prompt=self.prompt(shot, action, speakers),
            note=note,
        )

    def prompt(self, shot: str, action: str, speakers: list[Element]) -> str:
        """What the panel shows, in plain words: shot, place, then the action or who speaks."""
        shot_name = SHOT_NAMES[shot]
        if action:
            sentences = _first_sentences(_plain_words(action, self.caps_mentions))
            text = (
                f"{shot_name}. {self.setting}. {sentences}"
                if self.setting
                else f"{shot_name}. {sentences}"
            )
        elif speakers:
            names = list(dict.fromkeys(_spoken_name(e) for e in speakers))
            if len(names) == 1:
                who = f"{names[0]} speaking"
            elif any(e.dual for e in speakers):
                who = f"{names[0]} and {names[1]} speaking at once"
            else:
                who = f"{names[0]} speaking to {names[1]}"
            text = f"{shot_name}. {who}, {self.place}." if self.place else f"{shot_name}. {who}."
        else:
            text = f"{shot_name}. {self.setting}." if self.setting else f"{shot_name}."
        return _shortened(text, PROMPT_LIMIT - 1)


def _spoken_name(cue: Element) -> str:
    """ "Mara" for MARA; a forced cue keeps the writer's own case ("McClane")."""
    if cue.forced:
        return cue.text.split("(")[0].strip()
    return title_cased(cue.character)


def dialogue_text(elements: list[Element]) -> str:
    """The speeches as printed: cue with extension, parentheticals and lines under it."""
    speeches: list[list[str]] = []
    for element in elements:
        if element.kind == "character":
            extension = f" ({element.extension})" if element.extension else ""
            speeches.append([element.character + extension])
        elif element.kind in SPEECH_KINDS and element.character and speeches:
            speeches[-1].append(element.text)
    return "\n\n".join("\n".join(speech) for speech in speeches)


def _milliseconds(seconds: float) -> int:
    return min(MAX_BEAT_MS, max(MIN_BEAT_MS, round(seconds * 10) * 100))


def _plain_words(text: str, caps_mentions) -> str:
    """Capitals are for the page: in a prompt characters read "Mara", anything else lower case.
    A short run of capitals holding a speaker is their full name ("BRICK BRADDOCK")."""

    def soften(match: re.Match) -> str:
        capitals = match.group()
        if len(capitals.split()) <= 3 and caps_mentions(capitals):
            return title_cased(capitals)
        return _soften(capitals, caps_mentions)

    return _CAPITALS_RE.sub(soften, text)


def _soften(capitals: str, caps_mentions) -> str:
    softened = capitals.lower()
    for name in set(caps_mentions(capitals)):
        softened = re.sub(rf"(?<!\w){re.escape(name.lower())}(?!\w)", title_cased(name), softened)
    return softened


def _first_sentences(action: str) -> str:
    """The action's first sentences, up to about PROMPT_ACTION_CHARS, each with a capital."""
    paragraphs = [" ".join(p.split()) for p in action.split("\n\n")]
    text = " ".join(p if p[-1:] in ".!?:" else f"{p}." for p in paragraphs if p)
    chosen = ""
    for sentence in _SENTENCE_END_RE.split(text):
        if chosen and len(chosen) + 1 + len(sentence) > PROMPT_ACTION_CHARS:
            break
        chosen = f"{chosen} {sentence[:1].upper()}{sentence[1:]}".strip()
    return _shortened(chosen, PROMPT_ACTION_CHARS)


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "..."
