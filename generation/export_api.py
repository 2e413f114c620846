"""Exports over JSON: ask for a board's PDF, animatic or ZIP, or a project bundle; follow it."""

from datetime import datetime
from typing import Literal

from ninja import Router, Schema, Status
from pydantic import Field

from storyboards.models import Action
from storyboards.selectors import project_get_for_member, storyboard_get_for_member
from studio.errors import ERRORS
from studio.types import Id, PathId

from . import export_selectors, export_services
from .export_services import export_download_url

router = Router(tags=["exports"])


class ExportIn(Schema):
    kind: Literal["pdf", "animatic", "zip"]
    layout: int | None = Field(None, description="pdf: 1, 2 or 3 panels per row (default 2)")
    panels: list[Id] | None = Field(
        None, max_length=10_000, description="zip: the panels whose takes to pack (default all)"
    )


class ExportOut(Schema):
    id: int
    kind: str
    status: str
    progress: float
    download_url: str | None
    srt_url: str | None
    project: int
    storyboard: int | None
    options: dict
    size: int
    error: str
    attempts: int
    requested_by: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def export_out(export) -> dict:
    return {
        "id": export.id, "kind": export.kind, "status": export.status,
        "progress": export.progress, "download_url": export_download_url(export),
        "srt_url": export_download_url(export, "srt"), "project": export.project_id,
        "storyboard": export.storyboard_id, "options": export.options, "size": export.size,
        "error": export.error, "attempts": export.attempts,
        "requested_by": export.requested_by.username, "queued_at": export.queued_at,
        "started_at": export.started_at, "finished_at": export.finished_at,
    }  # fmt: skip


@router.post("/storyboards/{storyboard_id}/exports", response={202: ExportOut, **ERRORS})
def request_export(request, storyboard_id: PathId, body: ExportIn):
    """Any member may export. 202 at once; follow it with GET /exports/{id} or the board's socket."""
    storyboard, _ = storyboard_get_for_member(user=request.user, storyboard_id=storyboard_id)
    export = export_services.export_request(
        storyboard=storyboard, requested_by=request.user, **body.dict()
    )
    return Status(202, export_out(export))


@router.get("/storyboards/{storyboard_id}/exports", response={200: list[ExportOut], **ERRORS})
def list_exports(request, storyboard_id: PathId):
    """The board's recent exports, newest first."""
    storyboard, _ = storyboard_get_for_member(user=request.user, storyboard_id=storyboard_id)
    return [export_out(e) for e in export_selectors.exports_for_storyboard(storyboard=storyboard)]


@router.get("/exports/{export_id}", response={200: ExportOut, **ERRORS})
def get_export(request, export_id: PathId):
    export, _ = export_selectors.export_get_for_member(user=request.user, export_id=export_id)
    return export_out(export)


@router.post("/projects/{project_id}/bundle", response={202: ExportOut, **ERRORS})
def request_bundle(request, project_id: PathId):
    """The whole project as one ZIP, made by an export worker; poll GET /exports/{id}. It holds
    everything (members, inboxes, error details): owners only (403 for other members)."""
    project, _ = project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    export = export_services.project_bundle_request(project=project, requested_by=request.user)
    return Status(202, export_out(export))
