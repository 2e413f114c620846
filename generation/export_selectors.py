"""Careful reads about exports: who may see one, a board's recent ones."""

from django.http import Http404

from storyboards.models import Action, Storyboard
from storyboards.selectors import membership_get, require

from .models import Export, ExportKind

RECENT = 10  # exports a board's dialog and list endpoint show


def export_get_for_member(*, user, export_id: int, action: Action = Action.READ):
    """The export and the user's membership of its project, or 404: any member may see and
    download a project's exports, an outsider must not learn they exist."""
    export = (
        Export.objects.select_related("project", "storyboard", "requested_by")
        .filter(pk=export_id)
        .first()
    )
    if export is None:
        raise Http404
    membership = membership_get(user=user, project_id=export.project_id)
    require(membership, action)
    return export, membership


def exports_for_storyboard(*, storyboard: Storyboard, limit: int = RECENT) -> list[Export]:
    """The board's newest exports, newest first. One query."""
    return list(
        Export.objects.filter(storyboard=storyboard)
        .select_related("requested_by")
        .order_by("-queued_at", "-id")[:limit]
    )


def bundles_for_project(*, project, limit: int = RECENT) -> list[Export]:
    """The project's newest bundles, newest first. One query."""
    return list(
        Export.objects.filter(project=project, kind=ExportKind.BUNDLE)
        .select_related("requested_by")
        .order_by("-queued_at", "-id")[:limit]
    )
