"""Careful reads about takes: access, queue order, GPU accounting."""

from django.db.models import F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from storyboards.models import Action
from storyboards.selectors import membership_get, require

from .models import ACTIVE, Priority, Status, Take


def take_get_for_member(
    *, user, take_id: int, action: Action = Action.READ, on_board: bool = False
):
    """The take and the user's membership, or 404. `on_board`: only a take whose panel is still
    on the board (acting on a deleted panel's takes would spend GPU on what nobody sees)."""
    take = Take.objects.select_related("panel__storyboard").filter(pk=take_id).first()
    if take is None or (on_board and take.panel.deleted_at is not None):
        raise Http404
    membership = membership_get(user=user, project_id=take.panel.storyboard.project_id)
    require(membership, action)
    return take, membership


def queue_in_order():
    """Queued takes in the order workers take them.

    Interactive before bulk; within a priority, round-robin across authors (each author's
    first take, then each author's second...), so one person's 200-panel bulk run cannot
    starve anyone else's single take.
    """
    turn = Window(
        RowNumber(),
        partition_by=[F("priority"), F("author_id")],
        order_by=[F("queued_at"), F("id")],
    )
    return (
        Take.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .annotate(turn=turn)
        .order_by("priority", "turn", "queued_at", "id")
    )


def queue_positions() -> dict[int, tuple[int, int]]:
    """{take id: (1-based position, storyboard id)} for every queued take. One query."""
    rows = queue_in_order().values_list("id", "panel__storyboard_id")
    return {take_id: (i + 1, storyboard_id) for i, (take_id, storyboard_id) in enumerate(rows)}


def queue_position_map() -> dict[int, int]:
    """{take id: 1-based position} for every queued take. One query."""
    return {take_id: position for take_id, (position, _) in queue_positions().items()}


def queue_position(take: Take) -> int | None:
    if take.status != Status.QUEUED:
        return None
    return queue_position_map().get(take.id)


def gpu_seconds_for_project(*, project_id: int) -> dict:
    """Model time spent per storyboard and per person. Two queries."""
    takes = Take.objects.filter(panel__storyboard__project_id=project_id)
    per_board = (
        takes.values("panel__storyboard_id", "panel__storyboard__title")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by("-seconds")
    )
    per_person = (
        takes.values("author__username").annotate(seconds=Sum("gpu_seconds")).order_by("-seconds")
    )
    return {
        "storyboards": [
            {
                "id": row["panel__storyboard_id"],
                "title": row["panel__storyboard__title"],
                "seconds": round(row["seconds"] or 0.0, 2),
            }
            for row in per_board
        ],
        "people": [
            {"username": row["author__username"], "seconds": round(row["seconds"] or 0.0, 2)}
            for row in per_person
        ],
    }


def bulk_run(*, storyboard_id: int) -> dict | None:
    """The board's current "Generate all" run: its bulk takes still waiting, and those that
    finished since the oldest of them was queued. Done and total, and a time-left estimate from
    the run's own finished takes. None when no bulk take waits. One query."""
    bulk = Take.objects.filter(panel__storyboard_id=storyboard_id, priority=Priority.BULK)
    oldest = bulk.filter(status__in=ACTIVE).order_by("queued_at").values_list("queued_at")[:1]
    rows = list(
        bulk.filter(Q(status__in=ACTIVE) | Q(finished_at__gte=oldest)).values_list(
            "status", "started_at", "finished_at"
        )
    )
    if not rows:
        return None
    waiting = sum(1 for status, _, _ in rows if status in ACTIVE)
    durations = [(end - start).total_seconds() for status, start, end in rows
                 if status == Status.SUCCEEDED and start and end]  # fmt: skip
    eta = waiting * sum(durations) / len(durations) if durations else None
    return {"total": len(rows), "done": len(rows) - waiting, "waiting": waiting, "eta_s": eta}
