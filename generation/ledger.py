"""The ledger: what each panel cost in tries, failures and GPU time, where the tools struggled
and where people patched by hand; and the credits (who and which models made a project).

Reads only, each a fixed number of aggregate queries whatever the size of the project (the
tests pin them). Every take counts, those of deleted panels too: they spent GPU time. What each
figure means, and why, is in docs/ledger.md."""

from datetime import timedelta
from statistics import median

from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from storyboards.models import (
    Comment,
    Membership,
    Panel,
    Project,
    ReviewStatus,
    ScriptVersion,
    ShotType,
    StatusChange,
    Storyboard,
)

from .models import ACTIVE, Status, Take, Tool

COUNTS = ("takes", "succeeded", "failed", "cancelled", "active", "discarded")
TOOL_COUNTS = {Tool.INPAINT: "inpaints", Tool.VARIATION: "variations", Tool.UPSCALE: "upscales",
               Tool.VIDEO: "videos"}  # fmt: skip
NO_REASON = "No reason recorded"
HARDEST = 5  # panels named as the hardest on the project page
MAX_FILLED_DAYS = 366  # a longer span is drawn from its active days only


def duration_text(seconds: float | None) -> str:
    """'3 d 4 h', '2 h 05 min', '14 min', '40 s'; '' for none."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{secs} s"


# --- per panel ------------------------------------------------------------------------------


def _take_counts(prefix: str = "") -> dict:
    """The counts every ledger row carries, as aggregates over takes (`prefix`: the path from
    the grouped rows to their takes). `chosen`: the panel's selected take, when it is one of
    these; discarded = succeeded - chosen (see docs/ledger.md)."""
    field = f"{prefix}id" if prefix else "id"
    selected = "selected_take_id" if prefix else "panel__selected_take_id"

    def count(**conditions):
        return Count(field, filter=Q(**{prefix + k: v for k, v in conditions.items()}))

    counts = {
        "take_count": Count(field),  # not "takes": a panel's relation has that name
        "succeeded": count(status=Status.SUCCEEDED),
        "failed": count(status=Status.FAILED),
        "cancelled": count(status=Status.CANCELLED),
        "active": count(status__in=ACTIVE),
        "chosen": count(status=Status.SUCCEEDED, id=F(selected)),
        "gpu": Coalesce(Sum(f"{prefix}gpu_seconds"), 0.0),
    }
    counts |= {name: count(tool=tool) for tool, name in TOOL_COUNTS.items()}
    return counts


def _latest_approval():
    """When the panel was last approved: the approval that stands (docs/ledger.md)."""
    approvals = StatusChange.objects.filter(panel=OuterRef("pk"), status=ReviewStatus.APPROVED)
    return Subquery(approvals.order_by("-at", "-id").values("at")[:1])


SHOTS = dict(ShotType.choices) | {ShotType.UNSET: ""}  # no shot type: an empty cell, not a dash


def _panel_rows(panels) -> list[dict]:
    """One row per panel with its counts, GPU time and time to approval. One query."""
    rows = (
        panels.annotate(
            approved_at=_latest_approval(),
            first_take_at=Min("takes__queued_at"),
            tries_to_approval=Count("takes", filter=Q(takes__queued_at__lte=F("approved_at"))),
            **_take_counts("takes__"),
        )
        .values(
            "id",
            "storyboard_id",
            "storyboard__title",
            "position",
            "shot_type",
            "status",
            "deleted_at",
            "approved_at",
            "first_take_at",
            "tries_to_approval",
            "take_count",
            "succeeded",
            "failed",
            "cancelled",
            "active",
            "chosen",
            "gpu",
            *TOOL_COUNTS.values(),
        )  # fmt: skip
        .order_by("storyboard__created_at", "storyboard_id", "deleted_at", "position", "id")
    )
    return [_panel_row(row) for row in rows]


def _panel_row(row: dict) -> dict:
    # Only the approval that stands counts: a panel taken back to review is not approved.
    approved_at = row["approved_at"] if row["status"] == ReviewStatus.APPROVED else None
    first = row["first_take_at"]
    waited = (approved_at - first).total_seconds() if approved_at and first else None
    if waited is not None and waited < 0:  # approved before any take: nothing to measure
        waited = None
    return {
        "id": row["id"],
        "storyboard_id": row["storyboard_id"],
        "storyboard": row["storyboard__title"],
        "number": row["position"] + 1,
        "shot": SHOTS.get(row["shot_type"], ""),
        "status": row["status"],
        "status_label": ReviewStatus(row["status"]).label,
        "deleted": row["deleted_at"] is not None,
        "takes": row["take_count"],
        **{name: row[name] for name in ("succeeded", "failed", "cancelled", "active")},
        "discarded": row["succeeded"] - row["chosen"],
        **{name: row[name] for name in TOOL_COUNTS.values()},
        "gpu_seconds": round(row["gpu"], 1),
        "first_take_at": first,
        "approved_at": approved_at,
        "tries_to_approval": row["tries_to_approval"] if approved_at else None,
        "time_to_approval_s": waited,
        "time_to_approval": duration_text(waited),
        "reasons": [],
        "top_reason": "",
    }


def _reason_rows(takes) -> list[dict]:
    """Failed and cancelled takes grouped by panel, outcome and reason. One query."""
    rows = (
        takes.filter(status__in=(Status.FAILED, Status.CANCELLED))
        .values("panel_id", "status", "error")
        .annotate(n=Count("id"))
        .order_by("-n", "status", "error")
    )
    return [
        {"panel_id": r["panel_id"], "status": r["status"], "reason": r["error"] or NO_REASON,
         "count": r["n"]}
        for r in rows
    ]  # fmt: skip


def _attach_reasons(panels: list[dict], reasons: list[dict]) -> None:
    by_id = {row["id"]: row for row in panels}
    for reason in reasons:  # most frequent first
        row = by_id.get(reason["panel_id"])
        if row is not None:
            row["reasons"].append({k: reason[k] for k in ("status", "reason", "count")})
            if not row["top_reason"] and reason["status"] == Status.FAILED:
                row["top_reason"] = reason["reason"]


def _reasons_grouped(reasons: list[dict]) -> list[dict]:
    """The same reason on many panels is one row: how often, on how many panels."""
    grouped: dict[tuple, dict] = {}
    for r in reasons:
        row = grouped.setdefault(
            (r["status"], r["reason"]),
            {"status": r["status"], "reason": r["reason"], "count": 0, "panels": 0},
        )
        row["count"] += r["count"]
        row["panels"] += 1
    return sorted(grouped.values(), key=lambda r: (-r["count"], r["status"], r["reason"]))


def panel_ledger(panel: Panel) -> dict:
    """One panel's row (see `_panel_row`) with every failure and cancellation reason. Two queries."""
    row = _panel_rows(Panel.all_objects.filter(pk=panel.pk))[0]
    _attach_reasons([row], _reason_rows(Take.objects.filter(panel=panel)))
    return row


# --- totals, models, tools, people ------------------------------------------------------------


def _totals(panels: list[dict]) -> dict:
    """Sums over panel rows, and what approval took: panels approved, the median wait."""
    totals = {name: sum(p[name] for p in panels) for name in (*COUNTS, *TOOL_COUNTS.values())}
    live = [p for p in panels if not p["deleted"]]
    approved = [p for p in live if p["approved_at"]]
    waits = [p["time_to_approval_s"] for p in approved if p["time_to_approval_s"] is not None]
    tries = [p["tries_to_approval"] for p in approved]
    firsts = [p["first_take_at"] for p in live if p["first_take_at"]]
    # The whole board (or project) approved: from its first take to its last approval.
    all_done = bool(live) and len(approved) == len(live) and bool(firsts)
    span = (
        (max(p["approved_at"] for p in approved) - min(firsts)).total_seconds()
        if all_done
        else None
    )
    wait = median(waits) if waits else None
    return totals | {
        "gpu_seconds": round(sum(p["gpu_seconds"] for p in panels), 1),
        "panels": len(live),
        "deleted_panels": len(panels) - len(live),
        "approved": len(approved),
        "takes_per_panel": round(totals["takes"] / len(live), 1) if live else 0.0,
        "median_tries_to_approval": median(tries) if tries else None,
        "median_time_to_approval_s": wait,
        "median_time_to_approval": duration_text(wait),
        "all_approved_in_s": span,
        "all_approved_in": duration_text(span),
    }


def _grouped(takes, *fields: str) -> list[dict]:
    """Takes grouped by `fields` (a model, a tool, a person): counts, how many panels they
    touched, tries per panel and GPU time, the most tries per panel first. One query."""
    rows = takes.values(*fields).annotate(panels=Count("panel", distinct=True), **_take_counts())
    result = []
    for row in rows:
        row = dict(row)
        row["takes"] = row.pop("take_count")
        chosen = row.pop("chosen")
        row["discarded"] = row["succeeded"] - chosen
        row["gpu_seconds"] = round(row.pop("gpu"), 1)
        row["tries_per_panel"] = round(row["takes"] / row["panels"], 2) if row["panels"] else 0.0
        row["failure_rate"] = round(row["failed"] / row["takes"], 3) if row["takes"] else 0.0
        result.append(row)
    return sorted(result, key=lambda r: (-r["tries_per_panel"], -r["takes"], str(r[fields[0]])))


def _gpu_by_day(takes) -> list[dict]:
    """GPU seconds per day a take finished, days without any filled with zero. One query."""
    rows = list(
        takes.filter(finished_at__isnull=False)
        .annotate(day=TruncDate("finished_at"))
        .values("day")
        .annotate(seconds=Coalesce(Sum("gpu_seconds"), 0.0), takes=Count("id"))
        .order_by("day")
    )
    by_day = {r["day"]: r for r in rows}
    days = sorted(by_day)
    if days and (days[-1] - days[0]).days < MAX_FILLED_DAYS:
        days = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    return [
        {"day": day, "gpu_seconds": round(by_day[day]["seconds"], 1) if day in by_day else 0.0,
         "takes": by_day[day]["takes"] if day in by_day else 0}
        for day in days
    ]  # fmt: skip


def _hardest(panels: list[dict]) -> list[dict]:
    tried = [p for p in panels if p["takes"]]
    return sorted(tried, key=lambda p: (-p["takes"], -p["failed"], p["id"]))[:HARDEST]


def _models(takes) -> list[dict]:
    return [{"model": r.pop("model_key"), **r} for r in _grouped(takes, "model_key")]


def _tools(takes) -> list[dict]:
    labels = dict(Tool.choices)
    rows = _grouped(takes, "tool")
    return [{"tool": r["tool"], "label": labels.get(r["tool"], r["tool"]), **r} for r in rows]


# --- storyboard and project -------------------------------------------------------------------


def storyboard_ledger(storyboard: Storyboard) -> dict:
    """A board's panels (deleted ones kept, marked), totals, models, tools and reasons. Four
    queries: panel rows, reasons, models, tools."""
    takes = Take.objects.filter(panel__storyboard=storyboard)
    panels = _panel_rows(Panel.all_objects.filter(storyboard=storyboard))
    reasons = _reason_rows(takes)
    _attach_reasons(panels, reasons)
    return {
        "storyboard": {"id": storyboard.id, "title": storyboard.title},
        "totals": _totals(panels),
        "panels": panels,
        "models": _models(takes),
        "tools": _tools(takes),
        "reasons": _reasons_grouped(reasons),
        "hardest": _hardest(panels),
    }


def project_ledger(project: Project) -> dict:
    """The whole project: totals, per storyboard, per panel, by model, tool and person, GPU
    seconds per day, failure reasons and the hardest panels. Seven queries: storyboards, panel
    rows, reasons, models, tools, people, days."""
    takes = Take.objects.filter(panel__storyboard__project=project)
    boards = list(
        Storyboard.objects.filter(project=project)
        .order_by("created_at", "id")
        .values("id", "title")
    )
    panels = _panel_rows(Panel.all_objects.filter(storyboard__project=project))
    reasons = _reason_rows(takes)
    _attach_reasons(panels, reasons)
    people = [
        {"username": r.pop("author__username"), **r} for r in _grouped(takes, "author__username")
    ]
    return {
        "project": {"id": project.id, "name": project.name},
        "totals": _totals(panels),
        "storyboards": [
            {
                "id": b["id"],
                "title": b["title"],
                **_totals([p for p in panels if p["storyboard_id"] == b["id"]]),
            }
            for b in boards
        ],  # fmt: skip
        "panels": panels,
        "models": _models(takes),
        "tools": _tools(takes),
        "people": sorted(people, key=lambda r: (-r["gpu_seconds"], r["username"])),
        "reasons": _reasons_grouped(reasons),
        "gpu_by_day": _gpu_by_day(takes),
        "hardest": _hardest(panels),
    }


# --- credits ----------------------------------------------------------------------------------


def _count_by(queryset, user_field: str) -> dict[int, int]:
    rows = queryset.values(user_field).annotate(n=Count("id")).order_by()
    return {r[user_field]: r["n"] for r in rows}


def project_credits(project: Project) -> dict:
    """Everyone who made the project, by contribution, and every model, by takes and GPU time.
    People: prompts (takes they requested), edits (script versions they saved), panels (they
    drew up), approvals (their decisions to approve) and comments. Seven queries."""
    members = {
        m["user_id"]: m
        for m in Membership.objects.filter(project=project).values(
            "user_id", "user__username", "role"
        )
    }
    contributions = {
        "prompts": _count_by(Take.objects.filter(panel__storyboard__project=project), "author_id"),
        "edits": _count_by(ScriptVersion.objects.filter(script__project=project), "created_by_id"),
        "panels": _count_by(Panel.all_objects.filter(storyboard__project=project), "created_by_id"),
        "approvals": _count_by(
            StatusChange.objects.filter(
                panel__storyboard__project=project, status=ReviewStatus.APPROVED
            ),
            "by_id",
        ),
        "comments": _count_by(
            Comment.objects.filter(panel__storyboard__project=project), "author_id"
        ),
    }
    return {
        "project": {"id": project.id, "name": project.name},
        "people": _people(members, contributions),
        "models": _credited_models(project),
    }


def _people(members: dict, contributions: dict[str, dict[int, int]]) -> list[dict]:
    """Members, and anyone who contributed and has since left (role ''), most work first."""
    user_ids = set(members).union(*contributions.values())
    left = _usernames(user_ids - set(members))
    people = []
    for user_id in user_ids:
        member = members.get(user_id)
        counts = {kind: by_user.get(user_id, 0) for kind, by_user in contributions.items()}
        people.append({
            "username": member["user__username"] if member else left.get(user_id, ""),
            "role": member["role"] if member else "",
            **counts,
            "total": sum(counts.values()),
        })  # fmt: skip
    return sorted(people, key=lambda p: (-p["total"], p["username"]))


def _usernames(user_ids: set[int]) -> dict[int, str]:
    """Former members' names: one query, only when somebody has left."""
    if not user_ids:
        return {}
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")
    return dict(rows)


def _credited_models(project: Project) -> list[dict]:
    rows = (
        Take.objects.filter(panel__storyboard__project=project)
        .values("model_key", "model_source", "model_revision")
        .annotate(
            takes=Count("id"),
            succeeded=Count("id", filter=Q(status=Status.SUCCEEDED)),
            gpu=Coalesce(Sum("gpu_seconds"), 0.0),
            last_used=Max("queued_at"),
        )
    )
    models = [
        {"model": r["model_key"], "source": r["model_source"], "revision": r["model_revision"],
         "takes": r["takes"], "succeeded": r["succeeded"], "gpu_seconds": round(r["gpu"], 1),
         "last_used": r["last_used"]}
        for r in rows
    ]  # fmt: skip
    return sorted(models, key=lambda m: (-m["gpu_seconds"], -m["takes"], m["model"]))
