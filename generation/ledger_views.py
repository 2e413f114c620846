"""The ledger and credits pages, and the ledger as CSV. Thin: an access selector (every member
may read; outsiders get 404), one read from generation/ledger.py, charts drawn here."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from storyboards.selectors import project_get_for_member, storyboard_get_for_member

from .charts import Bar, Point, Series, bar_chart, line_chart
from .ledger import project_credits, project_ledger, storyboard_ledger

TRIES_SHOWN = 15  # the tries chart names the panels that took the most; the table has them all
OUTCOMES = [Series("Succeeded", "s-ok"), Series("Failed", "s-bad"),
            Series("Cancelled", "s-muted")]  # fmt: skip
GPU = [Series("GPU seconds", "s-accent")]


def _panel_label(row: dict, with_board: bool) -> str:
    label = f"Panel {row['number']}" + (f" ({row['shot']})" if row["shot"] else "")
    label += " (deleted)" if row["deleted"] else ""
    return f"{row['storyboard']} · {label}" if with_board else label


def _tries_chart(panels: list[dict], *, with_board: bool) -> str:
    worst = sorted((p for p in panels if p["takes"]), key=lambda p: (-p["takes"], p["id"]))
    bars = [
        Bar(_panel_label(p, with_board), [p["succeeded"], p["failed"], p["cancelled"]],
            note=p["top_reason"], href=reverse("storyboard-ledger", args=[p["storyboard_id"]]))
        for p in worst[:TRIES_SHOWN]
    ]  # fmt: skip
    return bar_chart(title="Tries per panel, most first", bars=bars, series=OUTCOMES,
                     unit="takes", css="tries")  # fmt: skip


def _gpu_bars(rows: list[dict], key: str, title: str, css: str) -> str:
    bars = [
        Bar(str(r[key]) or "—", [r["gpu_seconds"]],
            note=f"{r['takes']} takes, {r['tries_per_panel']} per panel, {r['failed']} failed")
        for r in sorted(rows, key=lambda r: -r["gpu_seconds"])
    ]  # fmt: skip
    return bar_chart(title=title, bars=bars, series=GPU, unit="GPU seconds", css=css)


def _tool_tries(rows: list[dict]) -> str:
    bars = [Bar(r["label"], [r["tries_per_panel"]], note=f"{r['takes']} takes on {r['panels']} panels")
            for r in rows]  # fmt: skip
    return bar_chart(title="Tries per panel by tool", bars=bars, series=[Series("Tries", "s-accent")],
                     unit="takes per panel", css="tool-tries")  # fmt: skip


@login_required
@require_GET
def project_ledger_page(request, project_id: int):
    project, membership = project_get_for_member(user=request.user, project_id=project_id)
    ledger = project_ledger(project)
    days = [
        Point(d["day"], d["gpu_seconds"], note=f"{d['takes']} takes") for d in ledger["gpu_by_day"]
    ]
    charts = {
        "tries": _tries_chart(ledger["panels"], with_board=True),
        "gpu_by_day": line_chart(title="GPU seconds over time", points=days,
                                 unit="GPU seconds", css="gpu-days"),
        "models": _gpu_bars(ledger["models"], "model", "GPU seconds by model", "gpu-models"),
        "people": _gpu_bars(ledger["people"], "username", "GPU seconds by person", "gpu-people"),
        "tools": _tool_tries(ledger["tools"]),
    }  # fmt: skip
    context = {"project": project, "membership": membership, "ledger": ledger, "charts": charts}
    return render(request, "generation/ledger.html", context)


@login_required
@require_GET
def storyboard_ledger_page(request, storyboard_id: int):
    storyboard, membership = storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id
    )
    ledger = storyboard_ledger(storyboard)
    charts = {
        "tries": _tries_chart(ledger["panels"], with_board=False),
        "models": _gpu_bars(ledger["models"], "model", "GPU seconds by model", "gpu-models"),
        "tools": _tool_tries(ledger["tools"]),
    }
    context = {"storyboard": storyboard, "project": membership.project, "ledger": ledger,
               "charts": charts}  # fmt: skip
    return render(request, "generation/ledger_storyboard.html", context)


CSV_COLUMNS = [
    "project", "storyboard", "panel", "shot", "status", "deleted", "takes", "succeeded", "failed",
    "cancelled", "discarded", "inpaints", "variations", "upscales", "videos", "gpu_seconds",
    "first_take_at", "approved_at", "time_to_approval_s", "tries_to_approval", "top_failure_reason",
]  # fmt: skip


def csv_cell(value) -> str | int | float:
    """A spreadsheet runs a cell that starts with = + - @ (or a tab or return before one) as a
    formula: such text gets a leading apostrophe, shown as text. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
@require_GET
def project_ledger_csv(request, project_id: int):
    """One row per panel (deleted ones marked), for a spreadsheet."""
    project, _ = project_get_for_member(user=request.user, project_id=project_id)
    ledger = project_ledger(project)
    filename = f"{slugify(project.name) or 'project'}-ledger.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for p in ledger["panels"]:
        row = [project.name, p["storyboard"], p["number"], p["shot"], p["status_label"],
               p["deleted"], p["takes"], p["succeeded"], p["failed"], p["cancelled"],
               p["discarded"], p["inpaints"], p["variations"], p["upscales"], p["videos"],
               p["gpu_seconds"], p["first_take_at"], p["approved_at"], p["time_to_approval_s"],
               p["tries_to_approval"], p["top_reason"]]  # fmt: skip
        writer.writerow([csv_cell(value) for value in row])
    return response


@login_required
@require_GET
def project_credits_page(request, project_id: int):
    project, membership = project_get_for_member(user=request.user, project_id=project_id)
    credits = project_credits(project)
    models = credits["models"]
    bars = [Bar(m["model"] + (f" @ {m['revision'][:10]}" if m["revision"] else ""), [m["gpu_seconds"]],
                note=f"{m['takes']} takes, {m['succeeded']} succeeded") for m in models]  # fmt: skip
    chart = bar_chart(title="Models by GPU seconds", bars=bars, series=GPU, unit="GPU seconds",
                      css="credit-models")  # fmt: skip
    context = {"project": project, "membership": membership, "credits": credits, "chart": chart}
    return render(request, "generation/credits.html", context)
