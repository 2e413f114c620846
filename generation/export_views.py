"""Export pages: the board dialog's list and form, and downloads. Thin: a selector checks
access (outsiders get 404), one service acts, a partial is shown."""

import mimetypes

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from storyboards.models import Action
from storyboards.selectors import project_get_for_member, storyboard_get_for_member
from studio.auth import request_user
from studio.errors import TooMany

from . import export_selectors, export_services
from .export_presenters import export_row
from .models import ExportKind, Status

# The dialog's choices: a PDF's layout travels in its name ("pdf-2": two panels per row).
CHOICES = {"pdf-1": ("pdf", 1), "pdf-2": ("pdf", 2), "pdf-3": ("pdf", 3),
           "animatic": ("animatic", None), "zip": ("zip", None)}  # fmt: skip


def _list(request, storyboard, error: str = "", status: int = 200):
    exports = export_selectors.exports_for_storyboard(storyboard=storyboard)
    context = {"rows": [export_row(e) for e in exports], "error": error}
    return render(request, "generation/_export_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def storyboard_exports(request, storyboard_id: int):
    """GET: the board's recent exports. POST `choice`: ask for one (any member may)."""
    storyboard, _ = storyboard_get_for_member(user=request.user, storyboard_id=storyboard_id)
    if request.method == "GET":
        return _list(request, storyboard)
    kind, layout = CHOICES.get(request.POST.get("choice", ""), (None, None))
    if kind is None:
        return _list(request, storyboard, "Choose a PDF, the animatic or a ZIP of takes.", 422)
    try:
        export_services.export_request(
            storyboard=storyboard, requested_by=request.user, kind=kind, layout=layout
        )
    except ValidationError as error:
        return _list(
            request,
            storyboard,
            " ".join(error.messages),
            429 if isinstance(error, TooMany) else 422,
        )
    return _list(request, storyboard)


def _filename(export, part: str) -> str:
    if export.kind == ExportKind.BUNDLE:
        return f"{slugify(export.project.name) or 'project'}-bundle.zip"
    board = slugify(export.storyboard.title) or "storyboard"
    return {ExportKind.PDF: f"{board}-storyboard.pdf",
            ExportKind.ANIMATIC: f"{board}-animatic.{'srt' if part == 'srt' else 'mp4'}",
            ExportKind.ZIP: f"{board}-takes.zip"}[export.kind]  # fmt: skip


@require_GET
def export_download(request, export_id: int):
    """A finished export's file (`?part=srt`: an animatic's subtitles), for members of its
    project only (session or Bearer); 404 for anyone else and for what is not ready."""
    user = request_user(request)
    if not user.is_authenticated:
        raise Http404
    export, _ = export_selectors.export_get_for_member(user=user, export_id=export_id)
    part = request.GET.get("part", "file")
    if part not in ("file", "srt") or export.status != Status.SUCCEEDED:
        raise Http404
    field = getattr(export, part)
    if not field:
        raise Http404
    name = _filename(export, part)
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if part == "srt":  # written as UTF-8; text without a charset reads as Latin-1 (mojibake)
        content_type = "text/plain; charset=utf-8"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def project_bundles(request, project_id: int):
    """The project page's bundles. GET: the recent ones (polled while one is on its way);
    POST: ask for one. A bundle holds everything, members and inboxes too: owners only."""
    project, _ = project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    error, status = "", 200
    if request.method == "POST":
        try:
            export_services.project_bundle_request(project=project, requested_by=request.user)
        except ValidationError as refusal:
            error, status = " ".join(refusal.messages), 429 if isinstance(refusal, TooMany) else 422
    bundles = export_selectors.bundles_for_project(project=project)
    context = {"project": project, "rows": [export_row(e) for e in bundles], "error": error,
               "busy": any(e.status in (Status.QUEUED, Status.RUNNING) for e in bundles)}  # fmt: skip
    return render(request, "generation/_bundle_list.html", context, status=status)
