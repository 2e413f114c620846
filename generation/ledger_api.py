"""The ledger and the credits over JSON: every member may read them; outsiders get 404.
What each figure means: docs/ledger.md."""

from datetime import date, datetime

from ninja import Router, Schema

from storyboards.selectors import project_get_for_member
from studio.errors import ERRORS
from studio.types import PathId

from .ledger import project_credits, project_ledger

router = Router(tags=["ledger"])


class Counts(Schema):
    takes: int
    succeeded: int
    failed: int
    cancelled: int
    active: int  # queued or running now
    discarded: int  # succeeded but not the panel's selected take
    inpaints: int
    variations: int
    upscales: int
    videos: int
    gpu_seconds: float


class Approval(Schema):
    panels: int  # on their boards now (deleted ones are counted in `deleted_panels`)
    deleted_panels: int
    approved: int
    takes_per_panel: float
    median_tries_to_approval: float | None
    median_time_to_approval_s: float | None
    all_approved_in_s: float | None  # first take to last approval, once every panel is approved


class Totals(Counts, Approval):
    pass


class StoryboardRow(Totals):
    id: int
    title: str


class Reason(Schema):
    status: str  # failed or cancelled
    reason: str
    count: int


class PanelRow(Counts):
    id: int
    storyboard_id: int
    storyboard: str
    number: int  # 1-based place on the board (where it stood, if deleted)
    shot: str
    status: str  # review status
    deleted: bool
    first_take_at: datetime | None
    approved_at: datetime | None  # the approval that stands; null unless approved now
    tries_to_approval: int | None
    time_to_approval_s: float | None
    top_reason: str  # the most frequent failure
    reasons: list[Reason]


class GroupRow(Counts):
    panels: int
    tries_per_panel: float
    failure_rate: float


class ModelRow(GroupRow):
    model: str


class ToolRow(GroupRow):
    tool: str
    label: str


class PersonRow(GroupRow):
    username: str


class ReasonRow(Reason):
    panels: int


class DayRow(Schema):
    day: date
    gpu_seconds: float
    takes: int


class LedgerOut(Schema):
    totals: Totals
    storyboards: list[StoryboardRow]
    panels: list[PanelRow]
    models: list[ModelRow]
    tools: list[ToolRow]
    people: list[PersonRow]
    reasons: list[ReasonRow]
    gpu_by_day: list[DayRow]
    hardest: list[int]  # panel ids, the most tries first


@router.get("/projects/{project_id}/ledger", response={200: LedgerOut, **ERRORS})
def ledger(request, project_id: PathId):
    """Takes, failures with their reasons, discarded takes, GPU seconds and time to approval,
    per storyboard, panel, model, tool, person and day."""
    project, _ = project_get_for_member(user=request.user, project_id=project_id)
    result = project_ledger(project)
    return {**result, "hardest": [p["id"] for p in result["hardest"]]}


class PersonCredit(Schema):
    username: str
    role: str  # '' for someone who has left the project
    prompts: int
    edits: int
    panels: int
    approvals: int
    comments: int
    total: int


class ModelCredit(Schema):
    model: str
    source: str
    revision: str
    takes: int
    succeeded: int
    gpu_seconds: float
    last_used: datetime


class CreditsOut(Schema):
    people: list[PersonCredit]
    models: list[ModelCredit]


@router.get("/projects/{project_id}/credits", response={200: CreditsOut, **ERRORS})
def credits(request, project_id: PathId):
    """People by contribution (prompts, script edits, panels, approvals, comments) and models
    by takes and GPU seconds."""
    project, _ = project_get_for_member(user=request.user, project_id=project_id)
    return project_credits(project)
