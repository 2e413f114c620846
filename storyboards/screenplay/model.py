"""The one element model that both readers (Fountain and Final Draft) produce."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = (
    "title", "heading", "action", "character", "parenthetical", "dialogue", "transition",
    "centered", "section", "synopsis", "note", "page_break", "lyric",
)  # fmt: skip

# Kinds that belong to a speech: they follow a character cue without a blank line.
SPEECH_KINDS = ("parenthetical", "dialogue", "lyric")
# Kinds that print on the page; the rest (notes, outline, title page) are the writer's own.
PRINTED_KINDS = ("heading", "action", "character", "parenthetical", "dialogue", "transition",
                 "centered", "lyric")  # fmt: skip


class ScriptError(ValueError):
    """A script Slate cannot read; the message is a sentence the writer can act on."""


@dataclass
class Element:
    kind: str
    text: str
    first_line: int
    last_line: int
    id: str = ""
    hash: str = ""
    scene: int | None = None
    notes: list[str] = field(default_factory=list)
    markup: str = ""
    scene_number: str = ""
    extension: str = ""
    character: str = ""
    dual: bool = False
    forced: bool = False
    depth: int = 0
    key: str = ""


@dataclass
class SceneInfo:
    index: int
    id: str
    number: str
    heading: str
    int_ext: str
    location: str
    time_of_day: str
    first_line: int
    last_line: int
    start: int
    end: int
    characters: list[str]
    estimated_seconds: float


@dataclass
class Beat:
    """One suggested storyboard panel."""

    kind: str
    element_ids: list[str]
    first_line: int
    last_line: int
    action: str
    dialogue: str
    characters: list[str]
    shot_type: str
    duration_ms: int
    prompt: str
    note: str = ""


@dataclass
class Screenplay:
    title_page: list[tuple[str, str]]
    elements: list[Element]
    scenes: list[SceneInfo]
    speakers: list[str] = field(default_factory=list)  # everyone with a cue, in order of first cue

    @property
    def total_seconds(self) -> float:
        """Every printed element, the opening before the first heading included."""
        from .breakdown import SECONDS_PER_LINE, element_lines

        return sum(element_lines(element) for element in self.elements) * SECONDS_PER_LINE

    @property
    def title(self) -> str:
        """The title page's Title on one line, or ""."""
        for key, value in self.title_page:
            if key.casefold() == "title":
                return " ".join(value.split())
        return ""

    def scene_text(self, index: int) -> str:
        """The scene as it reads on the page, without notes or outline."""
        scene = self.scenes[index]
        blocks: list[str] = []
        for element in self.elements[scene.start : scene.end]:
            if element.kind not in PRINTED_KINDS:
                continue
            if element.kind in SPEECH_KINDS and element.character and blocks:
                blocks[-1] += "\n" + element.text
            else:
                blocks.append(element.text)
        return "\n\n".join(blocks)

    def by_id(self) -> dict[str, Element]:
        return {element.id: element for element in self.elements}
