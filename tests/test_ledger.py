"""The ledger and the credits (issue 11): every take counted, failures with their reasons, GPU
time, time to approval, by model, tool and person; the pages, their charts, the CSV and the API."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.charts import Bar, Point, Series, bar_chart, line_chart
from generation.ledger import panel_ledger, project_credits, project_ledger, storyboard_ledger
from generation.models import Take
from storyboards import services as boards
from storyboards.models import Panel, StatusChange
from storyboards.scripts import script_create
from tests.test_browser import chromium, new_page, sign_in

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


# --- pages, CSV, API ------------------------------------------------------------------------


def test_members_read_the_ledger_and_outsiders_get_404(client, api, seeded, project, vic, olga):
    board = seeded["chase"].id
    paths = [f"/projects/{project.id}/ledger/", f"/projects/{project.id}/ledger.csv",
             f"/projects/{project.id}/credits/", f"/storyboards/{board}/ledger/"]  # fmt: skip
    assert api(None).get(f"/projects/{project.id}/ledger").status_code == 401
    assert api(olga).get(f"/projects/{project.id}/ledger").status_code == 404
    assert api(olga).get(f"/projects/{project.id}/credits").status_code == 404
    client.force_login(olga)
    assert [client.get(path).status_code for path in paths] == [404] * 4
    client.force_login(vic)  # a viewer may read
    assert [client.get(path).status_code for path in paths] == [200] * 4


def test_the_ledger_page_draws_its_charts(client, seeded, project, dana):
    client.force_login(dana)
    page = client.get(f"/projects/{project.id}/ledger/").content.decode()
    assert page.count("<svg") == 5 and "css/ledger.css" in page
    assert "Opening · Panel 1: 5 takes (3 succeeded, 1 failed, 1 cancelled)" in page  # tooltip
    assert OOM in page and "Hardest panels" in page
    board = client.get(f"/storyboards/{seeded['chase'].id}/ledger/").content.decode()
    assert "all in 1 d 12 h" not in board and "1 d 12 h" in board
    assert (
        f'href="/projects/{project.id}/ledger/"'
        in client.get(f"/projects/{project.id}/").content.decode()
    )


def test_an_empty_project_says_so_without_charts(client, project, dana):
    client.force_login(dana)
    page = client.get(f"/projects/{project.id}/ledger/").content.decode()
    assert "Nothing generated yet" in page and "<svg" not in page
    credits = client.get(f"/projects/{project.id}/credits/").content.decode()
    assert "No model has made a take yet" in credits and "<svg" not in credits
    assert api_ok(client, f"/api/projects/{project.id}/ledger")["totals"]["takes"] == 0


def api_ok(client, path):
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_the_csv_has_a_row_per_panel_and_no_formulas(client, seeded, project, dana, arti):
    Take.objects.filter(panel=seeded["p2"]).update(error='=HYPERLINK("http://evil")')
    project.name = 'Night/Shift: "1"'
    project.save()
    client.force_login(dana)
    answer = client.get(f"/projects/{project.id}/ledger.csv")
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"] == 'attachment; filename="nightshift-1-ledger.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == 4
    first = rows[0]
    assert (first["storyboard"], first["panel"], first["takes"], first["discarded"]) == (
        "Opening", "1", "5", "2")  # fmt: skip
    assert first["time_to_approval_s"] == str(5 * 3600.0) and first["top_failure_reason"] == OOM
    assert first["first_take_at"].startswith(T0.date().isoformat())
    assert rows[1]["top_failure_reason"] == '\'=HYPERLINK("http://evil")'
    assert rows[3]["storyboard"] == "Chase" and rows[3]["variations"] == "1"


def test_the_api_answers_the_ledger_and_credits(client, api, seeded, project, arti):
    ledger = api(arti).get(f"/projects/{project.id}/ledger").json()
    assert set(ledger) == {"totals", "storyboards", "panels", "models", "tools", "people",
                           "reasons", "gpu_by_day", "hardest"}  # fmt: skip
    assert ledger["totals"]["takes"] == 8 and ledger["hardest"][0] == seeded["p1"].id
    panel = next(p for p in ledger["panels"] if p["id"] == seeded["p1"].id)
    assert panel["time_to_approval_s"] == 5 * 3600 and panel["reasons"][0]["count"] == 1
    credits = api(arti).get(f"/projects/{project.id}/credits").json()
    assert {p["username"]: p["comments"] for p in credits["people"]}["vic"] == 2
    schema = api(arti).get("/openapi.json").json()
    assert "/api/projects/{project_id}/ledger" in schema["paths"]
    assert "LedgerOut" in schema["components"]["schemas"]


def test_the_panel_partial_shows_tries_and_reasons(seeded):
    from django.template.loader import render_to_string

    html = render_to_string("generation/_panel_ledger.html", {"ledger": panel_ledger(seeded["p1"])})
    assert "5 takes" in html and "1 failed" in html and OOM in html
    assert "approved in 5 h 00 min, 4 tries" in html


# --- charts -----------------------------------------------------------------------------------


def test_a_bar_chart_draws_a_bar_per_row_scaled_to_the_largest():
    series = [Series("Succeeded", "s-ok"), Series("Failed", "s-bad")]
    svg = bar_chart(title="Tries <per> panel", bars=[Bar("Panel 1", [3, 1]), Bar("Panel 2", [0, 2])],
                    series=series, unit="takes", css="tries")  # fmt: skip
    assert svg.count('<g class="bar">') == 2 and svg.count("<rect") == 3 + 2  # 3 bars, 2 keys
    assert '<title id="tries-t">Tries &lt;per&gt; panel</title>' in svg
    assert 'width="315.0"' in svg and 'width="210.0"' in svg  # 3 of 4 takes, 2 of 4
    assert "<title>Panel 2: 2 takes (2 failed)</title>" in svg
    assert bar_chart(title="t", bars=[], series=series, unit="takes", css="x") == ""


def test_a_line_chart_has_a_dot_per_day_and_labels_its_axis(seeded, project):
    days = project_ledger(project)["gpu_by_day"]
    svg = line_chart(title="GPU", points=[Point(d["day"], d["gpu_seconds"]) for d in days],
                     unit="GPU seconds", css="days")  # fmt: skip
    assert svg.count("<circle") == len(days) and "GPU seconds per day" in svg
    assert (
        f"<title>{T0.date().isoformat()}: 8.5 GPU seconds</title>" in svg
    )  # panel 1 and the chase
    one = line_chart(title="GPU", points=[Point(T0.date(), 2.0)], unit="s", css="one")
    assert one.count("<circle") == 1
    assert line_chart(title="GPU", points=[Point(T0.date(), 0.0)], unit="s", css="z") == ""


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.browser
def test_the_ledger_page_shows_its_charts_in_a_browser(browser, processes, seeded, project):
    host = processes.studio()
    page = new_page(browser, {"width": 390, "height": 800})
    sign_in(page, host, "dana", f"/projects/{project.id}/ledger/")
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    assert page.get_by_role("img", name="Tries per panel, most first").is_visible()
    bar = charts.first.locator("g.bar rect").first.bounding_box()
    assert bar and bar["width"] > 100  # the hardest panel's bar spans most of the phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not page.console_errors
