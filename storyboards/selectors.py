"""Reads that need care: every access check lives here, and outsiders get 404."""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404

from .models import Comment, Membership, Panel, Project, Storyboard


def membership_get(*, user, project_id: int) -> Membership:
    """The user's membership of a project, or 404: an outsider must not learn it exists."""
    if not user.is_authenticated:
        raise Http404
    try:
        return Membership.objects.select_related("project").get(project_id=project_id, user=user)
    except Membership.DoesNotExist:
        raise Http404 from None


def require(membership: Membership, right: str) -> None:
    """403 for a member whose role lacks the right (members already know the project exists)."""
    if not getattr(membership, f"can_{right}"):
        raise PermissionDenied(f"Your role ({membership.role}) cannot {right} in this project.")


def storyboards_for_project(*, project: Project) -> QuerySet[Storyboard]:
    return project.storyboards.annotate(panel_count=Count("panels")).order_by("created_at")


def projects_for_user(*, user) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).order_by("-created_at")


def project_get_for_member(*, user, project_id: int) -> tuple[Project, Membership]:
    membership = membership_get(user=user, project_id=project_id)
    return membership.project, membership


def storyboard_get_for_member(*, user, storyboard_id: int) -> tuple[Storyboard, Membership]:
    storyboard = Storyboard.objects.filter(pk=storyboard_id).first()
    if storyboard is None:
        raise Http404
    return storyboard, membership_get(user=user, project_id=storyboard.project_id)


def panel_get_for_member(*, user, panel_id: int) -> tuple[Panel, Membership]:
    panel = Panel.objects.select_related("storyboard").filter(pk=panel_id).first()
    if panel is None:
        raise Http404
    return panel, membership_get(user=user, project_id=panel.storyboard.project_id)


def _card_prefetches() -> list[Prefetch]:
    from generation.models import Take

    takes = Take.objects.order_by("queued_at", "id")
    comments = Comment.objects.select_related("author").order_by("created_at", "id")
    return [Prefetch("takes", queryset=takes), Prefetch("comments", queryset=comments)]


def _cards(panels: QuerySet[Panel]) -> QuerySet[Panel]:
    return panels.select_related("selected_take").prefetch_related(*_card_prefetches())


def panels_for_storyboard(*, storyboard: Storyboard, full: int | None = None) -> list[Panel]:
    """Panels in order with their selected take; the first `full` (all by default) also with
    their takes and comments (with authors) for a full card. 3 queries whatever the number."""
    panels = list(storyboard.panels.select_related("selected_take").order_by("position"))
    prefetch_related_objects(panels[:full], *_card_prefetches())
    return panels


def panel_for_card(*, panel_id: int) -> Panel | None:
    return _cards(Panel.objects.filter(pk=panel_id)).first()


def panels_for_cards(*, panel_ids) -> list[Panel]:
    """Several panels with what their cards show, whatever boards they are on: 3 queries."""
    return list(_cards(Panel.objects.filter(pk__in=list(panel_ids))))


def panel_order(*, storyboard_ids) -> dict[int, list[int]]:
    """{storyboard id: its panel ids in order}. One query."""
    order: dict[int, list[int]] = {board: [] for board in storyboard_ids}
    rows = Panel.objects.filter(storyboard__in=list(order)).order_by("storyboard", "position", "id")
    for board, panel_id in rows.values_list("storyboard_id", "pk"):
        order[board].append(panel_id)
    return order


def comments_for_panel(*, panel: Panel) -> QuerySet[Comment]:
    return panel.comments.select_related("author").order_by("created_at", "id")
