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

from .models import (
    Action,
    Character,
    Comment,
    Location,
    Membership,
    Notification,
    Panel,
    Project,
    ReviewStatus,
    Scene,
    Script,
    Storyboard,
    StylePreset,
)


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
    """Panel count, total running time and how many panels stand at each review status of a
    board. One query."""
    totals = Panel.objects.filter(storyboard=storyboard_id).aggregate(
        panels=Count("id"), duration_ms=Sum("duration_ms"),
        **{status: Count("id", filter=Q(status=status)) for status in ReviewStatus.values},
    )  # fmt: skip
    return {"panels": totals["panels"], "duration_ms": totals["duration_ms"] or 0,
            "statuses": {status: totals[status] for status in ReviewStatus.values}}  # fmt: skip


def panel_order(*, storyboard_ids) -> dict[int, list[int]]:
    """{storyboard id: its panel ids in order}. One query."""
    order: dict[int, list[int]] = {board: [] for board in storyboard_ids}
    rows = Panel.objects.filter(storyboard__in=list(order)).order_by("storyboard", "position", "id")
    for board, panel_id in rows.values_list("storyboard_id", "pk"):
        order[board].append(panel_id)
    return order


def comments_for_panel(*, panel: Panel) -> QuerySet[Comment]:
    """Every comment of the panel, oldest first (threads flattened: `reply_to` says where)."""
    return (
        panel.comments.select_related("author", "resolved_by")
        .prefetch_related("mentions")
        .order_by("created_at", "id")
    )


def comment_threads(*, panel: Panel) -> list[Comment]:
    """The panel's threads, oldest first, each with `thread_replies` and, when pinned on the
    frame, `pin_number`: 1, 2, 3… per take, in the order the pins were made. Two queries."""
    roots, replies = [], {}
    for comment in comments_for_panel(panel=panel):
        if comment.reply_to_id:
            replies.setdefault(comment.reply_to_id, []).append(comment)
        else:
            roots.append(comment)
    numbers: dict[int | None, int] = {}
    for root in roots:
        root.thread_replies = replies.get(root.id, [])
        if root.pinned:
            numbers[root.take_id] = root.pin_number = numbers.get(root.take_id, 0) + 1
    return roots


def pin_number(comment: Comment) -> int | None:
    """A pinned thread's number on its take's frame (see comment_threads)."""
    if not comment.pinned or comment.reply_to_id:
        return None
    earlier = Comment.objects.filter(
        panel_id=comment.panel_id,
        take_id=comment.take_id,
        reply_to__isnull=True,
        pin_x__isnull=False,
    ).filter(
        Q(created_at__lt=comment.created_at) | Q(created_at=comment.created_at, pk__lt=comment.pk)
    )
    return earlier.count() + 1


def inbox(*, user, limit: int = 50) -> list:
    """A person's notifications, newest first, only from projects they still belong to."""
    return list(
        Notification.objects.filter(
            user=user, comment__panel__storyboard__project__memberships__user=user
        )
        .select_related("actor", "comment__panel__storyboard__project")
        .order_by("-created_at", "-id")[:limit]
    )


def unread_count(*, user) -> int:
    return Notification.objects.filter(
        user=user, read_at__isnull=True,
        comment__panel__storyboard__project__memberships__user=user,
    ).count()  # fmt: skip


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


# --- scripts, scenes, cast -------------------------------------------------------------------


def _owned_by_member(model, pk: int, user, action: Action, project_of):
    """One object of a project-owned kind and the membership: 404 for outsiders, 403 for a
    role without `action` (the same contract as every other *_get_for_member)."""
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404
    membership = membership_get(user=user, project_id=project_of(obj))
    require(membership, action)
    return obj, membership


def script_get_for_member(*, user, script_id: int, action: Action = Action.READ):
    return _owned_by_member(Script, script_id, user, action, lambda s: s.project_id)


def scene_get_for_member(*, user, scene_id: int, action: Action = Action.READ):
    scene = Scene.objects.select_related("script").filter(pk=scene_id).first()
    if scene is None:
        raise Http404
    membership = membership_get(user=user, project_id=scene.script.project_id)
    require(membership, action)
    return scene, membership


def character_get_for_member(*, user, character_id: int, action: Action = Action.READ):
    return _owned_by_member(Character, character_id, user, action, lambda c: c.project_id)


def location_get_for_member(*, user, location_id: int, action: Action = Action.READ):
    return _owned_by_member(Location, location_id, user, action, lambda c: c.project_id)


def style_preset_get_for_member(*, user, preset_id: int, action: Action = Action.READ):
    return _owned_by_member(StylePreset, preset_id, user, action, lambda c: c.project_id)


def scripts_for_project(*, project: Project) -> QuerySet[Script]:
    return project.scripts.annotate(
        scene_count=Count("scenes", filter=Q(scenes__removed=False))
    ).order_by("created_at", "id")


def script_breakdown(*, script: Script) -> list[dict]:
    """The scene list with what each scene's storyboards hold: panels and their running time
    against the scene's estimate. Two queries however long the script."""
    scenes = list(script.scenes.all())
    boards = (
        Storyboard.objects.filter(scene__in=scenes)
        .annotate(
            panel_count=Count("panels", filter=Q(panels__deleted_at__isnull=True)),
            duration_ms=Coalesce(
                Sum("panels__duration_ms", filter=Q(panels__deleted_at__isnull=True)), 0
            ),
        )  # fmt: skip
        .order_by("created_at")
    )
    by_scene: dict[int, list[dict]] = {}
    for board in boards:
        by_scene.setdefault(board.scene_id, []).append({
            "id": board.id, "title": board.title, "panels": board.panel_count,
            "duration_s": board.duration_ms / 1000,
        })  # fmt: skip
    rows = []
    for scene in scenes:
        if scene.removed and scene.id not in by_scene:
            continue  # cut from the script and never boarded: nothing to show
        rows.append({"scene": scene, "storyboards": by_scene.get(scene.id, []),
                     "estimated_seconds": scene.estimated_seconds})  # fmt: skip
    return rows


def version_diff(*, script: Script, a: int, b: int) -> list[dict]:
    """Line rows between two versions: {op: ' ' | '-' | '+', old, new, text} with line numbers."""
    from difflib import SequenceMatcher

    texts = dict(script.versions.filter(number__in=(a, b)).values_list("number", "text"))
    if a not in texts or b not in texts:
        raise Http404
    old, new = texts[a].split("\n"), texts[b].split("\n")
    rows = []
    head = 0  # the unchanged head and tail need no diff (its cost grows with repeated lines)
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    rows += [{"op": " ", "old": k + 1, "new": k + 1, "text": old[k]} for k in range(head)]
    mid_old, mid_new = old[head : len(old) - tail], new[head : len(new) - tail]
    if len(mid_old) * len(mid_new) > 25_000_000:  # a rewrite of thousands of lines: one block
        opcodes = [("replace", 0, len(mid_old), 0, len(mid_new))]
    else:
        opcodes = SequenceMatcher(None, mid_old, mid_new, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        if tag == "equal":
            rows += [{"op": " ", "old": i1 + k + 1, "new": j1 + k + 1, "text": old[i1 + k]}
                     for k in range(i2 - i1)]  # fmt: skip
            continue
        rows += [{"op": "-", "old": i + 1, "new": None, "text": old[i]} for i in range(i1, i2)]
        rows += [{"op": "+", "old": None, "new": j + 1, "text": new[j]} for j in range(j1, j2)]
    rows += [{"op": " ", "old": len(old) - tail + k + 1, "new": len(new) - tail + k + 1,
              "text": old[len(old) - tail + k]} for k in range(tail)]  # fmt: skip
    return rows


def panel_on_board(*, panel_id: int, storyboard_id: int) -> bool:
    return Panel.objects.filter(pk=panel_id, storyboard_id=storyboard_id).exists()


def comment_get_for_member(*, user, comment_id: int, action: Action = Action.COMMENT):
    """A comment on a board that is not deleted, and the membership; 404 for anyone else."""
    comment = (
        Comment.objects.select_related("panel__storyboard", "author")
        .filter(pk=comment_id, panel__deleted_at__isnull=True)
        .first()
    )
    if comment is None:
        raise Http404
    membership = membership_get(user=user, project_id=comment.panel.storyboard.project_id)
    require(membership, action)
    return comment, membership


def member_names(*, project: Project) -> list[dict]:
    """Who can be @mentioned on the project's boards (the comment form offers them)."""
    rows = Membership.objects.filter(project=project, user__is_active=True).select_related("user")
    return sorted(
        ({"username": m.user.username, "name": m.user.get_full_name()} for m in rows),
        key=lambda m: m["username"].lower(),
    )
