"""Final Draft (.fdx) in and out.

Reading maps each <Paragraph Type="..."> to an element: Scene Heading, Action, Character,
Parenthetical, Dialogue, Transition and Lyrics to their kinds; General to action; Shot (a camera
direction such as "CLOSE ON THE GUN") to action in capitals, since Fountain has no shot element
and a heading would start a new scene; Cast List, New Act and End of Act to sections; any
paragraph aligned to the centre to centered. Final Draft stores headings, cues and transitions
as typed and shows them in capitals, so they are upper-cased here, as are AllCaps runs.
Script notes become the notes of the element they are anchored to.

Line numbers are those of the Fountain text that `to_fountain` writes for the screenplay, which
is the text Slate stores.

The XML goes through defusedxml: entities, a DTD or external references are refused.
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .breakdown import HEADING_RE, assemble
from .emphasis import escape, plain
from .fountain import parse_cue
from .model import SPEECH_KINDS, Element, Screenplay, ScriptError
from .writer import write_fountain

_KINDS = {
    "Scene Heading": "heading",
    "Action": "action",
    "General": "action",
    "Shot": "action",
    "Character": "character",
    "Parenthetical": "parenthetical",
    "Dialogue": "dialogue",
    "Transition": "transition",
    "Lyrics": "lyric",
    "Cast List": "section",
    "New Act": "section",
    "End of Act": "section",
}
_CAPITALS = ("Scene Heading", "Character", "Transition", "Shot")
_STYLE_MARKERS = (("Underline", "_"), ("Bold", "**"), ("Italic", "*"))
_CREDIT_RE = re.compile(r"((written|screenplay|teleplay|story)\s+)?by", re.IGNORECASE)
_SOURCE_RE = re.compile(r"(based on|story by|adapted from)\b", re.IGNORECASE)
_DATE_RE = re.compile(
    r"\b(draft|revis|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}|january|february|march|april|may|june|july"
    r"|august|september|october|november|december)",
    re.IGNORECASE,
)


def parse_fdx(data: bytes) -> Screenplay:
    root = _root(data)
    content = root.find("Content")
    if content is None:
        raise ScriptError("The Final Draft file has no script in it (its <Content> is missing).")
    elements: list[Element] = []
    for paragraph in content.findall("Paragraph"):
        _read_paragraph(paragraph, elements, dual=False)
    elements = _join_dialogue(elements)
    _anchor_script_notes(root, elements)
    title_page = _title_page(root.find("TitlePage"))
    for element in elements:
        element.text = plain(element.markup)
    titles = [
        Element("title", value, 0, 0, markup=escape(value), key=key) for key, value in title_page
    ]
    elements = titles + elements
    # The lines are those of the Fountain text Slate will store for this script.
    _, spans = write_fountain(Screenplay(title_page, elements, []))
    for element, (first, last) in zip(elements, spans, strict=True):
        element.first_line, element.last_line = first, last
    return assemble(title_page, elements)


def _root(data: bytes) -> ET.Element:
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as refused:
        raise ScriptError(
            "The Final Draft file declares entities or a DTD, which Slate refuses for safety."
        ) from refused
    except ET.ParseError as broken:
        raise ScriptError(f"The Final Draft file is damaged: {broken}.") from broken
    if root.tag != "FinalDraft":
        raise ScriptError(
            f"This is not a Final Draft script: its XML starts with <{root.tag}>, "
            "not <FinalDraft>. Export it from Final Draft as .fdx and import again."
        )
    return root


def _read_paragraph(paragraph: ET.Element, elements: list[Element], dual: bool) -> None:
    pair = paragraph.find("DualDialogue")
    if pair is not None:
        cues = 0
        for inner in pair.findall("Paragraph"):
            cues += inner.get("Type") == "Character"
            _read_paragraph(inner, elements, dual=cues >= 2)
        return
    kind_name = paragraph.get("Type", "Action")
    kind = _KINDS.get(kind_name, "action")
    markup = _runs(paragraph, capitals=kind_name in _CAPITALS)
    if kind != "dialogue":  # a blank line would split the paragraph in two; a speech keeps it
        markup = "\n".join(line for line in markup.split("\n") if line.strip())
    notes = [_note_text(note) for note in paragraph.findall("ScriptNote")]
    if not plain(markup).strip():
        if notes:  # a note anchored to an empty paragraph still says something
            elements.extend(Element("note", "", 0, 0, markup=note) for note in notes)
        return
    if paragraph.get("Alignment") == "Center" and kind == "action":
        kind = "centered"
    element = Element(kind, "", 0, 0, markup=markup, notes=notes, dual=dual)
    _fill(element, paragraph, kind_name, elements)
    elements.append(element)


def _runs(paragraph: ET.Element, capitals: bool) -> str:
    """The paragraph's <Text> runs as Fountain markup, one line per source line."""
    pieces = []
    for run in paragraph.findall("Text"):
        styles = set((run.get("Style") or "").split("+"))
        text = (run.text or "").replace("\t", "    ")
        if capitals or "AllCaps" in styles:
            text = text.upper()
        pieces.append(_styled(escape(text), styles))
    lines = [line.rstrip() for line in "".join(pieces).replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def _styled(markup: str, styles: set[str]) -> str:
    # Markers hug the words: "** bold **" would not read back as bold.
    core = markup.strip()
    if not core:
        return markup
    for style, marker in _STYLE_MARKERS:
        if style in styles:
            core = f"{marker}{core}{marker}"
    lead, end = len(markup) - len(markup.lstrip()), len(markup.rstrip())
    return markup[:lead] + core + markup[end:]


def _fill(element: Element, paragraph: ET.Element, kind_name: str, elements: list[Element]) -> None:
    """Kind-specific fields, and the speaker that speech elements inherit from their cue."""
    kind = element.kind
    if kind == "heading":
        element.scene_number = (paragraph.get("Number") or "").strip()
        element.forced = not HEADING_RE.match(element.markup)
    elif kind == "character":
        text = " ".join(plain(element.markup).split()).rstrip(":").strip()
        cue = parse_cue(text) or parse_cue("@" + text)
        if cue is None:  # nothing Fountain could cue, such as "(V.O.)" alone
            element.markup, element.character = escape(text), text
        else:
            element.markup = escape(cue.text)
            element.character, element.extension = cue.character, cue.extension
            element.dual = element.dual or cue.dual
    elif kind == "parenthetical" and not element.markup.startswith("("):
        element.markup = f"({element.markup})"
    elif kind == "section":
        element.depth = 1
    elif kind_name == "Shot":
        element.forced = True
    if kind in SPEECH_KINDS:
        speaker = next((e for e in reversed(elements) if e.kind != "note"), None)
        if speaker is not None and speaker.kind in ("character", *SPEECH_KINDS):
            element.character = speaker.character
            element.dual = element.dual or speaker.dual
        elif kind != "lyric":  # a line of dialogue nobody speaks reads as action in Fountain
            element.kind = "action"


def _join_dialogue(elements: list[Element]) -> list[Element]:
    """Consecutive Dialogue paragraphs of one speech make one element, as in Fountain."""
    joined: list[Element] = []
    for element in elements:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and element.kind == previous.kind == "dialogue"
            and element.character == previous.character
        ):
            previous.markup += "\n" + element.markup
            previous.notes += element.notes
        else:
            joined.append(element)
    return joined


def _note_text(note: ET.Element) -> str:
    paragraphs = note.findall("Paragraph") or [note]
    text = "\n".join("".join(run.text or "" for run in p.iter("Text")) for p in paragraphs)
    return "\n".join(line.strip() for line in text.strip().split("\n") if line.strip())


def _anchor_script_notes(root: ET.Element, elements: list[Element]) -> None:
    """Final Draft 10+ keeps notes in <ScriptNotes>, anchored by a character Range over the
    script's paragraphs; each joins the element whose text holds the range's start."""
    holder = root.find("ScriptNotes")
    if holder is None:
        return
    starts, offset = [], 0
    for element in elements:
        starts.append(offset)
        offset += len(plain(element.markup)) + 1
    for note in holder.findall("ScriptNote"):
        text = _note_text(note)
        if not text:
            continue
        position = _range_start(note.get("Range", ""))
        if 0 <= position < offset:
            elements[bisect.bisect_right(starts, position) - 1].notes.append(text)
        else:
            elements.append(Element("note", "", 0, 0, markup=text))


def _range_start(value: str) -> int:
    head = value.split(",")[0].strip()
    # isdigit() also takes "²", which int() refuses: an ASCII number or no anchor at all.
    return int(head) if head.isascii() and head.isdigit() else -1


def _title_page(title_page: ET.Element | None) -> list[tuple[str, str]]:
    """Final Draft's title page is free text; the usual layout gives the keys: the first
    centred line is the Title, "Written by" the Credit, the line after it the Author, dates
    the Draft date, left or right blocks the Contact, anything else Notes."""
    if title_page is None:
        return []
    content = title_page.find("Content")
    paragraphs = content.findall("Paragraph") if content is not None else []
    entries: dict[str, list[str]] = {}
    expect_author = False
    for paragraph in paragraphs:
        text = " ".join(plain(_runs(paragraph, capitals=False)).split())
        if not text:
            continue
        centered = paragraph.get("Alignment", "Center") == "Center"
        if expect_author:
            key, expect_author = "Author", False
        elif "Title" not in entries and centered:
            key = "Title"
        elif _CREDIT_RE.fullmatch(text):
            key, expect_author = "Credit", True
        elif _SOURCE_RE.match(text):
            key = "Source"
        elif _DATE_RE.search(text) and "Draft date" not in entries:
            key = "Draft date"
        else:
            key = "Notes" if centered else "Contact"
        entries.setdefault(key, []).append(text)
    return [(key, "\n".join(lines)) for key, lines in entries.items()]


_PARAGRAPH_TYPES = {
    "heading": "Scene Heading",
    "action": "Action",
    "centered": "Action",
    "character": "Character",
    "parenthetical": "Parenthetical",
    "dialogue": "Dialogue",
    "transition": "Transition",
    "lyric": "Lyrics",
    "section": "New Act",
}


def to_fdx(screenplay: Screenplay) -> bytes:
    """A plain Final Draft file of the screenplay: one run per paragraph, inline notes as
    ScriptNotes, a dual-dialogue pair inside <DualDialogue>. Synopses and page breaks are
    dropped, standalone notes join the paragraph before them."""
    root = ET.Element("FinalDraft", DocumentType="Script", Template="No", Version="5")
    content = ET.SubElement(root, "Content")
    speech_start, pair = 0, None  # where the current speech's paragraphs begin
    for element in screenplay.elements:
        if element.kind == "note" and len(content):
            _add_note(content[-1], element.text)
        if element.kind not in _PARAGRAPH_TYPES:
            continue
        if element.kind == "character":
            pair = _open_pair(content, speech_start) if element.dual else None
            speech_start = len(content)
        elif element.kind not in ("parenthetical", "dialogue", "lyric"):
            pair = None
        paragraph = ET.SubElement(pair if pair is not None else content, "Paragraph")
        _fill_paragraph(paragraph, element)
    _title_page_xml(root, screenplay.title_page)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _open_pair(content: ET.Element, speech_start: int) -> ET.Element:
    """Move the speech just written into a <DualDialogue> that the dual speech joins."""
    first_speech = list(content)[speech_start:]
    for paragraph in first_speech:
        content.remove(paragraph)
    pair = ET.SubElement(ET.SubElement(content, "Paragraph"), "DualDialogue")
    pair.extend(first_speech)
    return pair


def _fill_paragraph(paragraph: ET.Element, element: Element) -> None:
    paragraph.set("Type", _PARAGRAPH_TYPES[element.kind])
    if element.kind == "centered":
        paragraph.set("Alignment", "Center")
    if element.scene_number:
        paragraph.set("Number", element.scene_number)
    ET.SubElement(paragraph, "Text").text = element.text
    for note in element.notes:
        _add_note(paragraph, note)


def _add_note(paragraph: ET.Element, text: str) -> None:
    note = ET.SubElement(paragraph, "ScriptNote")
    ET.SubElement(ET.SubElement(note, "Paragraph"), "Text").text = text


def _title_page_xml(root: ET.Element, title_page: list[tuple[str, str]]) -> None:
    if not title_page:
        return
    content = ET.SubElement(ET.SubElement(root, "TitlePage"), "Content")
    for key, value in title_page:
        alignment = "Left" if key.casefold() == "contact" else "Center"
        for line in value.split("\n"):
            paragraph = ET.SubElement(content, "Paragraph", Alignment=alignment)
            ET.SubElement(paragraph, "Text").text = line
