"""Screenplays for Slate: Fountain and Final Draft read into one element model.

Pure Python (the standard library, defusedxml for Final Draft's XML, merge3 for merges): no
Django here, so the parser can be used and tested on its own.

- `parse_fountain(text)` and `parse_fdx(data)` give a `Screenplay`: its `elements` in script
  order, each with its source lines and a stable `id`, and its `scenes` broken down
  (slugline parts, speakers, estimated screen time). The title page is `title_page`, and it
  is also at the start of `elements` as "title" elements, so that it has lines and ids too;
  they belong to no scene.
- `to_fountain(screenplay)` writes it back; `to_fdx(screenplay)` writes Final Draft.
- `read_upload(filename, data)` turns an uploaded file into (title, Fountain text, format).
- `beats(screenplay, scene_index)` suggests the panels of one scene.
- `merge(base, mine, theirs)` merges two edits of one script.

Timing (breakdown.py) uses the formatted-page method: 55 typeset lines to a page, a page to a
minute, so `SECONDS_PER_LINE` = 60/55; `element_lines(element)` counts an element's lines.
"""

from .beats import (
    ESTABLISHING_SECONDS,
    LONG_SPEECH_LINES,
    SHOT_NAMES,
    beats,
    dialogue_text,
    named_shot,
    panel_note,
)
from .breakdown import (
    ACTION_WIDTH,
    DIALOGUE_WIDTH,
    LINES_PER_PAGE,
    PARENTHETICAL_WIDTH,
    SECONDS_PER_LINE,
    SECONDS_PER_PAGE,
    element_lines,
    heading_parts,
)
from .fdx import parse_fdx, to_fdx
from .fountain import parse_fountain
from .merging import merge
from .model import KINDS, Beat, Element, SceneInfo, Screenplay, ScriptError
from .upload import decode_text, read_upload
from .writer import to_fountain

__all__ = [
    "ACTION_WIDTH",
    "DIALOGUE_WIDTH",
    "ESTABLISHING_SECONDS",
    "KINDS",
    "LINES_PER_PAGE",
    "LONG_SPEECH_LINES",
    "PARENTHETICAL_WIDTH",
    "SECONDS_PER_LINE",
    "SECONDS_PER_PAGE",
    "SHOT_NAMES",
    "Beat",
    "Element",
    "SceneInfo",
    "Screenplay",
    "ScriptError",
    "beats",
    "dialogue_text",
    "decode_text",
    "element_lines",
    "heading_parts",
    "merge",
    "named_shot",
    "panel_note",
    "parse_fdx",
    "parse_fountain",
    "read_upload",
    "to_fdx",
    "to_fountain",
]
