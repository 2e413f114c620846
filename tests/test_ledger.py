"""The ledger and the credits (issue 11): every take counted, failures with their reasons, GPU
time, time to approval, by model, tool and person; the pages, their charts, the CSV and the API."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.ledger import panel_ledger, project_credits, project_ledger, storyboard_ledger
from generation.models import Take
from storyboards import services as boards
from storyboards.models import Panel, StatusChange
from storyboards.scripts import script_create

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)
OOM = "The GPU ran out of memory."
NO_MODEL = "The model could not be loaded."


def make_take(panel, author, status, *, hours, tool="text2image", model="tiny", gpu=0.0, error=""):
    take = Take.objects.create(
        panel=panel, author=author, status=status, tool=tool, model_key=model, seed=1, steps=2,
        guidance=1.0, width=64, height=64, gpu_seconds=gpu, error=error,
    )  # fmt: skip
    at = T0 + timedelta(hours=hours)
    finished = at + timedelta(minutes=1) if status not in ("queued", "running") else None
    Take.objects.filter(pk=take.pk).update(queued_at=at, finished_at=finished)
    return take


def set_status(panel, user, status, *, hours):
    change = StatusChange.objects.create(panel=panel, status=status, previous=panel.status, by=user)
    StatusChange.objects.filter(pk=change.pk).update(at=T0 + timedelta(hours=hours))
    Panel.all_objects.filter(pk=panel.pk).update(status=status)


@pytest.fixture
def seeded(project, storyboard, dana, arti, vic):
    """Opening: panel 1 took five takes (one failed, one cancelled after approval, an inpaint)
    and was approved 5 h after its first take; panel 2 failed twice; panel 3 is untouched.
    Chase: panel 1, one variation, approved, sent back, approved again a day later."""
    p1, p2, p3 = (boards.panel_create(storyboard=storyboard, user=dana, prompt=f"shot {i}")
                  for i in range(3))  # fmt: skip
    make_take(p1, dana, "failed", hours=0, gpu=0.5, error=OOM)
    make_take(p1, dana, "succeeded", hours=1, gpu=2.0)
    chosen = make_take(p1, dana, "succeeded", hours=2, gpu=2.0)
    make_take(p1, arti, "succeeded", hours=3, gpu=1.0, tool="inpaint")
    Panel.objects.filter(pk=p1.pk).update(selected_take=chosen)
    set_status(p1, dana, "approved", hours=5)
    make_take(p1, arti, "cancelled", hours=6, error="Cancelled before it started.")
    make_take(p2, arti, "failed", hours=24, model="big", gpu=1.0, error=OOM)
    make_take(p2, arti, "failed", hours=25, model="big", error=NO_MODEL)
    chase = boards.storyboard_create(project=project, user=dana, title="Chase")
    p4 = boards.panel_create(storyboard=chase, user=arti, prompt="the car")
    picked = make_take(p4, dana, "succeeded", hours=12, tool="variation", gpu=3.0)
    Panel.objects.filter(pk=p4.pk).update(selected_take=picked)
    set_status(p4, dana, "approved", hours=20)
    set_status(p4, dana, "changes_requested", hours=22)
    set_status(p4, dana, "approved", hours=48)
    boards.comment_add(panel=p2, author=vic, body="Too dark")
    boards.comment_add(panel=p2, author=arti, body="Trying again")
    boards.comment_add(panel=p4, author=vic, body="Love it")
    script_create(project=project, user=arti, title="Pilot", text="INT. DINER - NIGHT\n\nRain.")
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "chase": chase}


def test_a_panel_counts_every_take_and_its_approval(seeded):
    row = panel_ledger(seeded["p1"])
    assert {k: row[k] for k in ("takes", "succeeded", "failed", "cancelled", "discarded",
                                "inpaints", "gpu_seconds")} == {  # fmt: skip
        "takes": 5, "succeeded": 3, "failed": 1, "cancelled": 1, "discarded": 2, "inpaints": 1,
        "gpu_seconds": 5.5,
    }  # fmt: skip
    assert row["time_to_approval_s"] == 5 * 3600 and row["time_to_approval"] == "5 h 00 min"
    assert row["tries_to_approval"] == 4  # the cancelled take came after the approval
    assert row["top_reason"] == OOM
    assert {(r["status"], r["reason"], r["count"]) for r in row["reasons"]} == {
        ("failed", OOM, 1), ("cancelled", "Cancelled before it started.", 1)}  # fmt: skip


def test_the_approval_that_stands_is_measured(seeded):
    row = panel_ledger(seeded["p4"])
    assert row["time_to_approval_s"] == 36 * 3600 and row["discarded"] == 0
    untouched = panel_ledger(seeded["p3"])
    assert untouched["takes"] == 0 and untouched["time_to_approval_s"] is None


def test_a_panel_sent_back_is_not_approved(seeded, dana):
    set_status(seeded["p4"], dana, "in_review", hours=60)
    row = panel_ledger(seeded["p4"])
    assert row["approved_at"] is None and row["time_to_approval"] == ""


def test_the_project_ledger_adds_up(seeded, project, django_assert_num_queries):
    # storyboards, panel rows, reasons, models, tools, people, GPU per day
    with django_assert_num_queries(7):
        ledger = project_ledger(project)
    totals = ledger["totals"]
    assert (totals["takes"], totals["succeeded"], totals["failed"], totals["cancelled"]) == (
        8, 4, 3, 1)  # fmt: skip
    assert totals["discarded"] == 2 and totals["gpu_seconds"] == 9.5
    assert totals["panels"] == 4 and totals["approved"] == 2
    assert totals["median_time_to_approval_s"] == (5 + 36) / 2 * 3600
    opening, chase = ledger["storyboards"]
    assert (opening["title"], opening["takes"], opening["approved"]) == ("Opening", 7, 1)
    assert chase["all_approved_in_s"] == 36 * 3600 and opening["all_approved_in_s"] is None
    models = {m["model"]: m for m in ledger["models"]}
    assert models["big"]["takes"] == 2 and models["big"]["failed"] == 2
    assert models["big"]["tries_per_panel"] == 2.0 and models["tiny"]["tries_per_panel"] == 3.0
    assert ledger["models"][0]["model"] == "tiny"  # the most tries per panel first
    tools = {t["tool"]: t for t in ledger["tools"]}
    assert tools["inpaint"]["takes"] == 1 and tools["variation"]["gpu_seconds"] == 3.0
    people = {p["username"]: p for p in ledger["people"]}
    assert people["dana"]["takes"] == 4 and people["dana"]["gpu_seconds"] == 7.5
    assert people["arti"]["failed"] == 2 and people["arti"]["cancelled"] == 1
    assert ledger["reasons"][0] == {"status": "failed", "reason": OOM, "count": 2, "panels": 2}
    assert ledger["hardest"][0]["id"] == seeded["p1"].id
    days = ledger["gpu_by_day"]
    assert days[0]["day"] == T0.date() and sum(d["gpu_seconds"] for d in days) == 9.5
    assert [d["day"] for d in days] == [T0.date() + timedelta(days=i) for i in range(len(days))]


def test_the_query_count_does_not_grow_with_the_project(
    seeded, project, dana, django_assert_num_queries
):
    board = boards.storyboard_create(project=project, user=dana, title="More")
    for i in range(6):
        panel = boards.panel_create(storyboard=board, user=dana, prompt=f"more {i}")
        make_take(panel, dana, "failed", hours=100 + i, model=f"m{i}", error=f"reason {i}")
    with django_assert_num_queries(7):
        project_ledger(project)
    # panel rows, reasons, models, tools
    with django_assert_num_queries(4):
        storyboard_ledger(board)


def test_a_deleted_panel_still_counts_but_not_as_a_panel(seeded, project, dana):
    boards.panel_delete(panel=seeded["p2"], by=dana)
    ledger = project_ledger(project)
    assert ledger["totals"]["takes"] == 8 and ledger["totals"]["panels"] == 3
    assert ledger["totals"]["deleted_panels"] == 1
    assert [p["deleted"] for p in ledger["panels"] if p["id"] == seeded["p2"].id] == [True]


def test_credits_count_each_contribution(seeded, project, django_assert_num_queries):
    # members, takes, script versions, panels, approvals, comments, models
    with django_assert_num_queries(7):
        credits = project_credits(project)
    people = {p["username"]: p for p in credits["people"]}
    assert {k: people["dana"][k] for k in ("prompts", "edits", "panels", "approvals", "comments")} == {
        "prompts": 4, "edits": 0, "panels": 3, "approvals": 3, "comments": 0}  # fmt: skip
    assert (people["arti"]["prompts"], people["arti"]["edits"], people["arti"]["panels"]) == (
        4,
        1,
        1,
    )
    assert people["vic"]["comments"] == 2 and people["vic"]["role"] == "viewer"
    models = {m["model"]: m for m in credits["models"]}
    assert models["tiny"]["takes"] == 6 and models["tiny"]["succeeded"] == 4
    assert models["big"]["gpu_seconds"] == 1.0
