"""Reads that need care: every access check lives here, and outsiders get 404."""

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from .models import Action, Comment, Membership, Panel, Project, Storyboard


def membership_get(*, user, project_id: int) -> Membership:
    """The user's membership of a project, or 404: an outsider must not learn it exists."""
    if not user.is_authenticated:
        raise Http404
    try:
        return Membership.objects.select_related("project").get(project_id=project_id, user=user)
    except Membership.DoesNotExist:
        raise Http404 from None


def require(membership: Membership, action: Action) -> None:
    """403 for a member whose role lacks the right (members already know the project exists)."""
    if not membership.may(action):
        raise PermissionDenied(
            f"Your role ({membership.get_role_display().lower()}) cannot {action.label} here."
        )


def storyboards_for_project(*, project: Project) -> QuerySet[Storyboard]:
    return storyboards_with_sizes(project=project)


def projects_for_user(*, user) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).order_by("-created_at")


def project_get_for_member(
    *, user, project_id: int, action: Action = Action.READ
) -> tuple[Project, Membership]:
    """May this user do `action` in this project? The project and the membership, else 404 for
    an outsider and 403 for a member whose role lacks it. Every kind of object has one of these."""
    membership = membership_get(user=user, project_id=project_id)
    require(membership, action)
    return membership.project, membership


def storyboard_get_for_member(
    *, user, storyboard_id: int, action: Action = Action.READ
) -> tuple[Storyboard, Membership]:
    storyboard = Storyboard.objects.filter(pk=storyboard_id).first()
    if storyboard is None:
        raise Http404
    membership = membership_get(user=user, project_id=storyboard.project_id)
    require(membership, action)
    return storyboard, membership


def panel_get_for_member(
    *, user, panel_id: int, action: Action = Action.READ, deleted: bool = False
) -> tuple[Panel, Membership]:
    """A panel on its board (or, with `deleted`, one deleted from it: undo) and the membership."""
    panels = Panel.all_objects.filter(deleted_at__isnull=False) if deleted else Panel.objects
    panel = panels.select_related("storyboard").filter(pk=panel_id).first()
    if panel is None:
        raise Http404
    membership = membership_get(user=user, project_id=panel.storyboard.project_id)
    require(membership, action)
    return panel, membership


def _with_card_facts(panels: list[Panel]) -> list[Panel]:
    """What a card shows beyond its row and selected take, for any number of panels in three
    queries: `active_takes` (running and queued, in queue order), `last_failed` (the newest
    take, if it failed) and `comment_count`. Never every take: a board may hold thousands."""
    from generation.models import ACTIVE, Status, Take

    prefetch_related_objects(panels, Prefetch(
        "takes", queryset=Take.objects.filter(status__in=ACTIVE).order_by("queued_at", "id"),
        to_attr="active_takes"))  # fmt: skip
    latest = [p.latest_take_id for p in panels if p.latest_take_id]
    failed = Take.objects.filter(pk__in=latest, status=Status.FAILED) if latest else []
    failed_by_id = {t.id: t for t in failed}
    for panel in panels:
        panel.last_failed = failed_by_id.get(panel.latest_take_id)
    return panels


def _card_rows(panels: QuerySet[Panel]) -> QuerySet[Panel]:
    from generation.models import Take

    latest = Take.objects.filter(panel=OuterRef("pk")).order_by("-queued_at", "-id").values("id")
    comments = (
        Comment.objects.filter(panel=OuterRef("pk")).order_by().values("panel")
        .annotate(n=Count("id")).values("n")
    )  # fmt: skip
    return panels.select_related("selected_take").annotate(
        latest_take_id=Subquery(latest[:1]), comment_count=Coalesce(Subquery(comments), 0)
    )


def panels_for_storyboard(*, storyboard: Storyboard) -> list[Panel]:
    """The board's panels in order, each with what its card shows. 4 queries whatever the size."""
    return _with_card_facts(list(_card_rows(storyboard.panels.order_by("position"))))


def panel_for_card(*, panel_id: int) -> Panel | None:
    panels = panels_for_cards(panel_ids=[panel_id])
    return panels[0] if panels else None


def panels_for_cards(*, panel_ids) -> list[Panel]:
    """Several panels with what their cards show, whatever boards they are on."""
    return _with_card_facts(list(_card_rows(Panel.objects.filter(pk__in=list(panel_ids)))))


def takes_for_panels(*, panel_ids) -> dict[int, list]:
    """{panel id: every take of it, newest first, with who made it}: the inspector's lists,
    one query for any number of panels (a "Generate all" batch touches hundreds)."""
    from generation.models import Take

    takes: dict[int, list] = {panel_id: [] for panel_id in panel_ids}
    rows = Take.objects.filter(panel__in=list(takes)).select_related("author")
    for take in rows.order_by("-queued_at", "-id"):
        takes[take.panel_id].append(take)
    return takes


def board_summary(*, storyboard_id: int) -> dict:
    """Panel count and total running time of a board. One query."""
    totals = Panel.objects.filter(storyboard=storyboard_id).aggregate(
        panels=Count("id"), duration_ms=Sum("duration_ms")
    )
    return {"panels": totals["panels"], "duration_ms": totals["duration_ms"] or 0}


def panel_order(*, storyboard_ids) -> dict[int, list[int]]:
    """{storyboard id: its panel ids in order}. One query."""
    order: dict[int, list[int]] = {board: [] for board in storyboard_ids}
    rows = Panel.objects.filter(storyboard__in=list(order)).order_by("storyboard", "position", "id")
    for board, panel_id in rows.values_list("storyboard_id", "pk"):
        order[board].append(panel_id)
    return order


def comments_for_panel(*, panel: Panel) -> QuerySet[Comment]:
    return panel.comments.select_related("author").order_by("created_at", "id")


# --- what deleting takes with it --------------------------------------------------------------


def _with_sizes(boards: QuerySet[Storyboard]) -> QuerySet[Storyboard]:
    """Panels on the board, panels deleted from it (kept for undo) and takes: one query."""
    return boards.annotate(
        panel_count=Count("panels", filter=Q(panels__deleted_at__isnull=True), distinct=True),
        deleted_panel_count=Count(
            "panels", filter=Q(panels__deleted_at__isnull=False), distinct=True
        ),
        take_count=Count("panels__takes", distinct=True),
    )


def storyboards_with_sizes(*, project: Project) -> QuerySet[Storyboard]:
    """The project page's list, with what a delete would take (its confirmation names it)."""
    return _with_sizes(project.storyboards.all()).order_by("created_at")


def storyboard_with_sizes(*, storyboard: Storyboard) -> Storyboard:
    return _with_sizes(Storyboard.objects.filter(pk=storyboard.pk)).get()


def project_deletion_summary(project: Project) -> dict[str, int]:
    """Everything deleting the project takes with it, for the confirmation: one count each."""
    from generation.models import Take

    within = {"panel__storyboard__project": project}
    return {
        "storyboards": project.storyboards.count(),
        "panels": Panel.all_objects.filter(storyboard__project=project).count(),
        "takes": Take.objects.filter(**within).count(),
        "comments": Comment.objects.filter(**within).count(),
        "scripts": project.scripts.count(),
        "members": project.memberships.count(),
    }
