"""Scene breakdown: stable ids, scenes, their slugline parts, speakers and timing.

Timing uses the formatted-page method: a typeset screenplay page holds 55 lines and plays for
about a minute, so every line is worth 60/55 s. An element takes the lines it would typeset to:
action (and centered text) wraps at 61 characters, dialogue (and lyrics) at 35, a
parenthetical at 26; a heading, a character cue and a transition take one line each. A heading,
an action paragraph, a character cue (with its speech) and a transition also take the blank
line printed before them. Notes, synopses, sections, page breaks, the title page and the
boneyard take none.
"""

from __future__ import annotations

import functools
import hashlib
import re

from .model import Element, SceneInfo, Screenplay

LINES_PER_PAGE = 55
SECONDS_PER_PAGE = 60
SECONDS_PER_LINE = SECONDS_PER_PAGE / LINES_PER_PAGE
ACTION_WIDTH = 61
DIALOGUE_WIDTH = 35
PARENTHETICAL_WIDTH = 26

# "INT." / "EXT " / "INT./EXT." / "I/E" ... followed by a period or a space (Fountain's rule).
HEADING_RE = re.compile(r"(?:INT\.?/EXT|EXT\.?/INT|I/E|E/I|INT|EXT|EST)[. ]", re.IGNORECASE)
_PREFIX_RE = re.compile(
    r"(INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I\s*/\s*E|E\s*/\s*I|INT|EXT|EST)\.?\s*", re.IGNORECASE
)
# " - ", " -- ", an en or em dash: the separators between location and time of day.
_PART_SPLIT_RE = re.compile(r"\s+-{1,2}\s+|\s*--\s*|\s*[\u2013\u2014]\s*")
_BRACKETS_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD_RE = re.compile(r"[A-Z]+(?:['-][A-Z]+)*")
# A slugline's last part is its time of day when it ends with one of these words.
TIME_WORDS = frozenset(
    "DAY NIGHT MORNING AFTERNOON EVENING DAWN DUSK SUNSET SUNRISE NOON MIDNIGHT TWILIGHT "
    "DAYBREAK NIGHTFALL PRE-DAWN LATER CONTINUOUS CONTINUED SAME TIME MOMENTS MOMENT MINUTES "
    "SECONDS HOURS DAYS NIGHTS WEEKS MONTHS YEARS BEFORE AFTER EARLIER".split()
)


def element_lines(element: Element) -> int:
    """The typeset lines an element takes, the blank line before it included."""
    kind = element.kind
    if kind in ("heading", "character", "transition"):
        return 2
    if kind in ("action", "centered"):
        return 1 + wrapped_lines(element.text, ACTION_WIDTH)
    if kind == "dialogue":
        return wrapped_lines(element.text, DIALOGUE_WIDTH)
    if kind == "parenthetical":
        return wrapped_lines(element.text, PARENTHETICAL_WIDTH)
    if kind == "lyric":  # sung inside a speech, or on its own with a blank line before
        return wrapped_lines(element.text, DIALOGUE_WIDTH) + (0 if element.character else 1)
    return 0


def wrapped_lines(text: str, width: int) -> int:
    """Lines the text fills when word-wrapped at width characters; an empty line counts."""
    return sum(_wrap(line, width) for line in text.split("\n"))


def _wrap(line: str, width: int) -> int:
    if len(line) <= width:
        return 1
    lines, used = 1, 0
    for word in line.split():
        size = len(word)
        if used and used + 1 + size <= width:
            used += 1 + size
            continue
        if used:
            lines += 1
        while size > width:  # a word longer than the line breaks where the line ends
            lines += 1
            size -= width
        used = size
    return lines


def heading_parts(heading: str) -> tuple[str, str, str]:
    """(int_ext, location, time_of_day) of a slugline such as "INT. HOUSE - KITCHEN - NIGHT"."""
    text = " ".join(heading.split())
    int_ext = ""
    prefix = _PREFIX_RE.match(text)
    if prefix and HEADING_RE.match(text):
        int_ext = _int_ext(prefix.group(1))
        text = text[prefix.end() :]
    location, time_of_day = text, ""
    parts = _PART_SPLIT_RE.split(text)
    head, comma, tail = text.rpartition(",")
    if len(parts) > 1 and _is_time(parts[-1]):
        location, time_of_day = " - ".join(parts[:-1]), _clean_time(parts[-1])
    elif comma and _is_time(tail):
        location, time_of_day = head, _clean_time(tail)
    return int_ext, location.strip(" .,-").upper(), time_of_day


def _int_ext(prefix: str) -> str:
    letters = re.sub(r"[^A-Z/]", "", prefix.upper())
    if "/" in letters:
        return "INT/EXT"
    return letters  # INT, EXT or EST


def _is_time(part: str) -> bool:
    words = _WORD_RE.findall(_BRACKETS_RE.sub(" ", part.upper()))
    return bool(words) and len(words) <= 5 and words[-1] in TIME_WORDS


def _clean_time(part: str) -> str:
    cleaned = " ".join(_BRACKETS_RE.sub(" ", part).split()).strip(" .,").upper()
    return cleaned or " ".join(part.split()).upper()


def assemble(title_page: list[tuple[str, str]], elements: list[Element]) -> Screenplay:
    """Give every element its id and scene, and break the script down into scenes."""
    _stamp_ids(elements)
    headings = [i for i, element in enumerate(elements) if element.kind == "heading"]
    speakers = _speakers(elements)
    mentions = mention_finder(speakers)
    scenes = []
    for index, start in enumerate(headings):
        end = headings[index + 1] if index + 1 < len(headings) else len(elements)
        for element in elements[start:end]:
            element.scene = index
        scenes.append(_scene(index, elements, start, end, mentions))
    return Screenplay(title_page=title_page, elements=elements, scenes=scenes, speakers=speakers)


def _stamp_ids(elements: list[Element]) -> None:
    # The id hashes what the element says, never where it is, so it survives edits elsewhere;
    # the counter tells apart repeated elements ("CUT TO:", a recurring cue).
    seen: dict[tuple[str, str], int] = {}
    for element in elements:
        normalized = " ".join(element.text.split()).casefold()
        count = seen[element.kind, normalized] = seen.get((element.kind, normalized), 0) + 1
        digest = _sha1(f"{element.kind}\n{normalized}")[:8]
        element.id = f"{element.kind}-{digest}-{count}"
        element.hash = _sha1(f"{element.kind}\n{element.text}")[:12]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _speakers(elements: list[Element]) -> list[str]:
    return list(
        dict.fromkeys(e.character for e in elements if e.kind == "character" and e.character)
    )


def mention_finder(speakers: list[str], title_case: bool = False):
    """A function giving the known speakers written in CAPS in a piece of action, in order
    (with title_case, also those written "Mara", as the speaker's upper-case name)."""
    return _finder(tuple(speakers), title_case)


@functools.lru_cache(maxsize=8)
def _finder(speakers: tuple[str, ...], title_case: bool):
    # Two letters at least: a one-letter speaker ("A") would match every "A" in the action.
    names = [name for name in speakers if sum(c.isalpha() for c in name) >= 2]
    forms = {name: name for name in names}
    if title_case:
        forms.update({title_cased(name): name for name in names})
    if not forms:
        return lambda text: []
    pattern = re.compile(rf"(?<!\w){_trie(forms)}(?!\w)")
    return lambda text: [forms[found] for found in pattern.findall(text)]


def _trie(words) -> str:
    """One pattern for many words, branching letter by letter: matching costs the same for
    ten speakers or ten thousand (a plain alternation tries each name at every word)."""
    tree: dict = {}
    for word in words:
        node = tree
        for letter in word:
            node = node.setdefault(letter, {})
        node[""] = {}
    return _branches(tree)


def _branches(node: dict) -> str:
    branches = [re.escape(letter) + _branches(child) for letter, child in node.items() if letter]
    if not branches:
        return ""
    group = "(?:" + "|".join(branches) + ")"
    return group + "?" if "" in node else group


def title_cased(name: str) -> str:
    """ "MARA" -> "Mara", "WILL'S DATE" -> "Will's Date" (str.title would give "Will'S")."""
    return " ".join(word[:1].upper() + word[1:].lower() for word in name.split(" "))


def _scene(index: int, elements: list[Element], start: int, end: int, mentions) -> SceneInfo:
    heading = elements[start]
    int_ext, location, time_of_day = heading_parts(heading.text)
    scene_elements = elements[start:end]
    characters: list[str] = []
    for element in scene_elements:
        if element.kind == "character" and element.character:
            characters.append(element.character)
        elif element.kind == "action":
            characters.extend(mentions(element.text))
    lines = sum(element_lines(element) for element in scene_elements)
    return SceneInfo(
        index=index,
        id=heading.id,
        number=heading.scene_number or str(index + 1),
        heading=" ".join(heading.text.split()),
        int_ext=int_ext,
        location=location,
        time_of_day=time_of_day,
        first_line=heading.first_line,
        last_line=max(element.last_line for element in scene_elements),
        start=start,
        end=end,
        characters=list(dict.fromkeys(characters)),
        estimated_seconds=lines * SECONDS_PER_LINE,
    )
