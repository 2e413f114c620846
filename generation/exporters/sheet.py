"""A storyboard read once into plain data: what every export prints, plays or packs.

Renderers take a `Sheet` and never touch the database, so they can be timed and tested alone
and a board edited mid-export cannot change what one file shows halfway through.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from generation.models import Take
from storyboards.models import Panel, ShotType, Storyboard


@dataclass(frozen=True)
class SheetTake:
    """The selected take of a panel, with everything its credits and the ZIP manifest need."""

    id: int
    image_path: Path | None
    video_path: Path | None
    parameters: dict  # Take.PARAMETERS, as stored
    prompt_parts: list
    prompt_cut: list
    parent_id: int | None
    author: str  # username
    gpu_seconds: float

    @property
    def model(self) -> str:
        """The model as credited: its key, and its revision when pinned."""
        key, revision = self.parameters["model_key"], self.parameters["model_revision"]
        return f"{key}@{revision}" if revision else key


@dataclass(frozen=True)
class SheetPanel:
    id: int
    position: int  # 0-based, as the API counts
    shot_type: str  # the code ("cu"), "" when unset
    shot_label: str  # "Close-up"
    action: str
    dialogue: str
    notes: str
    duration_ms: int
    aspect_ratio: str
    take: SheetTake | None

    @property
    def shot_number(self) -> int:
        """As the board prints it: the first panel is shot 1."""
        return self.position + 1

    @property
    def image_path(self) -> Path | None:
        return self.take.image_path if self.take else None

    @property
    def take_id(self) -> int | None:
        return self.take.id if self.take else None

    @property
    def prompt(self) -> str:
        return self.take.parameters["prompt"] if self.take else ""

    @property
    def model(self) -> str:
        return self.take.model if self.take else ""


@dataclass(frozen=True)
class Sheet:
    project: str
    storyboard: str
    date: datetime.date
    aspect_ratio: str  # the board's: the animatic's frame shape
    panels: tuple[SheetPanel, ...]

    @property
    def title(self) -> str:
        return f"{self.project} — {self.storyboard}"

    @property
    def duration_ms(self) -> int:
        return sum(panel.duration_ms for panel in self.panels)

    @property
    def takes(self) -> list[SheetTake]:
        """The frames on the board, in board order."""
        return [panel.take for panel in self.panels if panel.take]

    @property
    def authors(self) -> list[str]:
        """The people whose takes the board shows, once each (for credits)."""
        return list(dict.fromkeys(take.author for take in self.takes))


def sheet_read(*, storyboard: Storyboard) -> Sheet:
    """The board's live panels in order with their selected takes: 2 queries whatever the size
    (the board with its project, then the panels with their takes and the takes' authors)."""
    board = Storyboard.objects.select_related("project").get(pk=storyboard.pk)
    rows = (
        Panel.objects.filter(storyboard=board)
        .select_related("selected_take__author")
        .order_by("position")
    )
    labels = dict(ShotType.choices)
    panels = tuple(
        SheetPanel(
            id=row.id, position=row.position, shot_type=row.shot_type,
            shot_label=labels.get(row.shot_type, row.shot_type) if row.shot_type else "",
            action=row.action, dialogue=row.dialogue, notes=row.notes,
            duration_ms=row.duration_ms, aspect_ratio=row.aspect_ratio,
            take=_sheet_take(row.selected_take),
        )
        for row in rows
    )  # fmt: skip
    return Sheet(
        project=board.project.name,
        storyboard=board.title,
        date=timezone.localdate(),
        aspect_ratio=board.aspect_ratio,
        panels=panels,
    )


def _sheet_take(take: Take | None) -> SheetTake | None:
    # Only a finished picture counts: a selection whose image is gone reads as no frame.
    if take is None or not take.image:
        return None
    return SheetTake(
        id=take.id,
        image_path=Path(take.image.path),
        video_path=Path(take.video.path) if take.video else None,
        parameters={name: getattr(take, name) for name in Take.PARAMETERS},
        prompt_parts=take.prompt_parts,
        prompt_cut=take.prompt_cut,
        parent_id=take.parent_id,
        author=take.author.username,
        gpu_seconds=take.gpu_seconds,
    )
