"""Takes over JSON: request, read, cancel, retry, generate a whole storyboard."""

from datetime import datetime
from typing import Literal

from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field

from storyboards import services as boards
from storyboards.api import PanelOut
from storyboards.models import Action
from storyboards.presenters import recall_settings
from storyboards.selectors import panel_get_for_member, storyboard_get_for_member
from studio.errors import ERRORS
from studio.types import Id, PathId, ShortText

from . import selectors, services
from .models import Priority, Tool
from .prompting import compose

router = Router(tags=["takes"])


class TakeIn(Schema):
    tool: Literal[tuple(Tool.values)] = "text2image"
    model: ShortText | None = None
    # Bounds from generation.services (defined once); the model's own limits are checked there.
    seed: int | None = Field(None, ge=services.SEED_RANGE[0], le=services.SEED_RANGE[1])
    steps: int | None = Field(None, ge=1)
    guidance: float | None = Field(
        None, ge=services.GUIDANCE_RANGE[0], le=services.GUIDANCE_RANGE[1]
    )
    width: int | None = Field(None, ge=8, multiple_of=8)
    height: int | None = Field(None, ge=8, multiple_of=8)
    parent_take: Id | None = None
    strength: float | None = Field(
        None, ge=services.STRENGTH_RANGE[0], le=services.STRENGTH_RANGE[1]
    )
    mask: str | None = Field(None, max_length=20_000_000, description="PNG, base64 (inpaint)")
    scale: Literal[2, 4] | None = Field(None, description="upscale factor")
    num_frames: int | None = Field(None, ge=services.MIN_FRAMES)
    fps: int | None = Field(None, ge=services.FPS_RANGE[0], le=services.FPS_RANGE[1])
    use_references: bool = Field(
        True, description="text2image: start from a character's or location's reference image"
    )


class TakeOut(Schema):
    id: int
    panel: int
    storyboard: int
    tool: str
    status: str
    progress: float
    queue_position: int | None
    image_url: str | None
    video_url: str | None
    model: str
    model_source: str
    model_revision: str
    prompt: str  # as sent: composed, within the model's token limit
    negative_prompt: str
    prompt_parts: list[dict]  # what each part of the prompt contributed (see PromptOut)
    prompt_cut: list[str]
    reference_url: str | None
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    strength: float | None
    scale: int | None
    num_frames: int | None
    fps: int | None
    parent_take: int | None
    retry_of: int | None
    author: str
    priority: str
    attempts: int
    error: str
    note: str
    timings: dict
    gpu_seconds: float
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def media_url(field) -> str | None:
    """A stored file's address (a FieldFile, or a storage name)."""
    name = field if isinstance(field, str) else field.name if field else ""
    return reverse("media", args=[name]) if name else None


_UNKNOWN = object()


def take_out(take, position=_UNKNOWN) -> dict:
    """`position`: the take's place in the queue when the caller already knows it (lists)."""
    return {
        "id": take.id, "panel": take.panel_id, "storyboard": take.panel.storyboard_id,
        "tool": take.tool, "status": take.status, "progress": take.progress,
        "queue_position": selectors.queue_position(take) if position is _UNKNOWN else position,
        "image_url": media_url(take.image), "video_url": media_url(take.video),
        "model": take.model_key, "model_source": take.model_source,
        "model_revision": take.model_revision, "prompt": take.prompt,
        "negative_prompt": take.negative_prompt, "prompt_parts": take.prompt_parts,
        "prompt_cut": take.prompt_cut, "reference_url": media_url(take.reference),
        "seed": take.seed, "steps": take.steps,
        "guidance": take.guidance, "width": take.width, "height": take.height,
        "strength": take.strength, "scale": take.scale, "num_frames": take.num_frames,
        "fps": take.fps, "parent_take": take.parent_id, "retry_of": take.retry_of_id,
        "author": take.author.username, "priority": Priority(take.priority).label.lower(),
        "attempts": take.attempts, "error": take.error, "note": take.note, "timings": take.timings,
        "gpu_seconds": take.gpu_seconds, "queued_at": take.queued_at,
        "started_at": take.started_at, "finished_at": take.finished_at,
    }  # fmt: skip


@router.post("/panels/{panel_id}/takes", response={202: TakeOut, **ERRORS})
def request_take(request, panel_id: PathId, body: TakeIn):
    panel, membership = panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.GENERATE
    )
    take = services.take_request(panel=panel, author=request.user, **body.dict())
    return Status(202, take_out(take))


@router.get("/panels/{panel_id}/takes", response={200: list[TakeOut], **ERRORS})
def list_takes(request, panel_id: PathId):
    panel, _ = panel_get_for_member(user=request.user, panel_id=panel_id)
    positions = selectors.queue_position_map()
    takes = panel.takes.select_related("author", "panel").order_by("queued_at", "id")
    return [take_out(t, positions.get(t.id)) for t in takes]


@router.get("/takes/{take_id}", response={200: TakeOut, **ERRORS})
def get_take(request, take_id: PathId):
    take, _ = selectors.take_get_for_member(user=request.user, take_id=take_id)
    return take_out(take)


@router.post("/takes/{take_id}/cancel", response={200: TakeOut, **ERRORS})
def cancel_take(request, take_id: PathId):
    take, membership = selectors.take_get_for_member(
        user=request.user, take_id=take_id, action=Action.EDIT
    )
    return take_out(services.take_cancel(take=take, by=request.user, membership=membership))


@router.post("/takes/{take_id}/retry", response={202: TakeOut, **ERRORS})
def retry_take(request, take_id: PathId):
    take, membership = selectors.take_get_for_member(
        user=request.user, take_id=take_id, on_board=True, action=Action.GENERATE
    )
    return Status(202, take_out(services.take_retry(take=take, author=request.user)))


class RecallOut(PanelOut):
    generate: dict = Field(
        description="the take's settings for the next Generate (the panel has no fields for "
        "them): post them to /api/panels/{id}/takes"
    )


@router.post("/takes/{take_id}/recall", response={200: RecallOut, **ERRORS})
def recall_take(request, take_id: PathId):
    """The take's prompt, negative prompt, shot type and camera move back on its panel."""
    take, membership = selectors.take_get_for_member(
        user=request.user, take_id=take_id, on_board=True, action=Action.EDIT
    )
    panel = boards.panel_recall(panel=take.panel, take=take, membership=membership)
    panel.generate = recall_settings(take)
    return panel


class PromptPartOut(Schema):
    source: Literal["prompt", "shot", "camera", "character", "location", "style"]
    label: str
    text: str
    tokens: int
    cut: bool
    kept: str
    why: str


class PromptOut(Schema):
    model: str
    text: str
    negative: str
    parts: list[PromptPartOut]
    cut: list[str]
    tokens: int  # the start and end markers included, like limit
    limit: int
    counted: Literal["tokenizer", "estimate"]
    seed: int | None
    seed_from: str
    reference_url: str | None
    reference_from: str


@router.get("/panels/{panel_id}/prompt", response={200: PromptOut, **ERRORS})
def panel_prompt(request, panel_id: PathId, model: ShortText | None = None):
    """The prompt a text-to-image take of this panel would be sent now, part by part."""
    panel, _ = panel_get_for_member(user=request.user, panel_id=panel_id)
    spec = services.model_for_prompt(model)
    composition = compose(panel, model_spec=spec)
    return {"model": spec.key, "reference_url": media_url(composition.reference),
            **composition.as_dict()}  # fmt: skip


class GenerateAllOut(Schema):
    takes: list[TakeOut]


@router.post("/storyboards/{storyboard_id}/generate-all", response={202: GenerateAllOut, **ERRORS})
def generate_all(request, storyboard_id: PathId):
    storyboard, membership = storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.GENERATE
    )
    takes = services.storyboard_generate_all(storyboard=storyboard, author=request.user)
    positions = selectors.queue_position_map()
    return Status(202, {"takes": [take_out(t, positions.get(t.id)) for t in takes]})


class ModelOut(Schema):
    key: str
    label: str
    kind: str
    tools: list[str]
    defaults: dict
    limits: dict


class CancelAllOut(Schema):
    cancelled: int


@router.post("/storyboards/{storyboard_id}/cancel-all", response={200: CancelAllOut, **ERRORS})
def cancel_all(request, storyboard_id: PathId):
    """Stop the board's waiting "Generate all" takes you may cancel (directors and owners: all)."""
    storyboard, membership = storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    n = services.storyboard_cancel_bulk(
        storyboard=storyboard, by=request.user, membership=membership
    )
    return Status(200, {"cancelled": n})


@router.get("/models", response={200: list[ModelOut], **ERRORS})
def list_models(request):
    from django.conf import settings

    from .registry import model_get

    return [model_get(key).__dict__ for key in settings.SLATE_MODELS]
