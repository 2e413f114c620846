"""Exports: PDF, animatic, ZIP and bundle jobs, run like takes (claim, heartbeat, recovery).

The API contract, who may export and download, bad input refused with nothing written, an
export worker run in the test process and as a real process (killed mid-export, it still
finishes), and the live events a board's sockets hear.
"""

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from generation import export_services, machinery
from generation.export_selectors import exports_for_storyboard
from generation.export_worker import SCRATCH_PREFIX, UNKNOWN, Exporter, scratch_folder
from generation.jobs import export_queue
from generation.models import Export, Take
from storyboards import services as boards
from studio.events import captured, flush
from tests.conftest import wait_for
from tests.test_live_updates import communicator, events_until, live_until, session_cookie


def png(colour=(200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


def framed(panel, author) -> Take:
    """A take as a worker leaves it, selected on its panel: what exports are made of."""
    take = Take.objects.create(
        panel=panel, author=author, model_key="tiny", seed=1, steps=2, guidance=1.0, width=64,
        height=48, status="succeeded", progress=1.0, prompt=panel.prompt,
    )  # fmt: skip
    take.image.save(f"p{panel.storyboard.project_id}/take-{take.id}.png", ContentFile(png()))
    boards.panel_update(panel=panel, selected_take=take.id)
    return take


def ask(storyboard, user, **body):
    return export_services.export_request(storyboard=storyboard, requested_by=user, **body)


def serve_one() -> Export:
    """Run what the export queue holds in this process, as the export worker would."""
    assert Exporter().serve() == 1
    flush()
    return Export.objects.latest("id")


# --- the API contract ----------------------------------------------------------------------


def test_asking_for_an_export_answers_202_with_its_id_and_status(api, arti, storyboard, panel):
    response = api(arti).post(f"/storyboards/{storyboard.id}/exports", {"kind": "pdf", "layout": 3})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["kind"] == "pdf"
    export = Export.objects.get(pk=body["id"])
    assert export.options == {"layout": 3} and export.requested_by == arti
    assert export.project_id == storyboard.project_id and export.storyboard_id == storyboard.id

    shown = api(arti).get(f"/exports/{body['id']}").json()
    assert shown["status"] == "queued" and shown["progress"] == 0.0
    assert shown["download_url"] is None


def test_a_pdf_is_two_panels_a_row_unless_asked_and_a_zip_packs_every_panel(
    dana, storyboard, panel
):
    second = boards.panel_create(storyboard=storyboard, user=dana, prompt="the cook looks up")
    assert ask(storyboard, dana, kind="pdf").options == {"layout": 2}
    assert ask(storyboard, dana, kind="zip").options == {"panels": [panel.id, second.id]}
    assert ask(storyboard, dana, kind="zip", panels=[second.id]).options == {"panels": [second.id]}
    assert ask(storyboard, dana, kind="animatic").options == {}


def test_a_viewer_may_export_too(api, vic, storyboard, panel):
    response = api(vic).post(f"/storyboards/{storyboard.id}/exports", {"kind": "animatic"})
    assert response.status_code == 202


def test_an_outsider_gets_404_everywhere_and_nothing_is_written(api, olga, dana, storyboard, panel):
    mine = ask(storyboard, dana, kind="pdf")
    outsider = api(olga)
    assert (
        outsider.post(f"/storyboards/{storyboard.id}/exports", {"kind": "pdf"}).status_code == 404
    )
    assert outsider.get(f"/storyboards/{storyboard.id}/exports").status_code == 404
    assert outsider.get(f"/exports/{mine.id}").status_code == 404
    assert outsider.post(f"/projects/{storyboard.project_id}/bundle").status_code == 404
    assert list(Export.objects.values_list("pk", flat=True)) == [mine.id]


@pytest.mark.parametrize(
    "body, said",
    [
        ({"kind": "gif"}, "kind"),
        ({"kind": "bundle"}, "kind"),
        ({}, "kind"),
        ({"kind": "pdf", "layout": 4}, "1, 2 or 3"),
        ({"kind": "pdf", "layout": 0}, "1, 2 or 3"),
        ({"kind": "pdf", "layout": "two"}, "layout"),
        ({"kind": "animatic", "layout": 2}, "PDF exports only"),
        ({"kind": "zip", "panels": []}, "at least one panel"),
        ({"kind": "zip", "panels": [987654]}, "Not panels of this board"),
        ({"kind": "pdf", "panels": [1]}, "ZIP exports only"),
    ],
)
def test_bad_input_is_refused_in_words_and_nothing_is_written(
    api, dana, storyboard, panel, body, said
):
    response = api(dana).post(f"/storyboards/{storyboard.id}/exports", body)
    assert response.status_code in (400, 422), response.content
    assert said in json.dumps(response.json())
    assert not Export.objects.exists()


def test_a_board_without_panels_has_nothing_to_export(api, dana, storyboard):
    response = api(dana).post(f"/storyboards/{storyboard.id}/exports", {"kind": "pdf"})
    assert response.status_code == 422 and "no panels" in json.dumps(response.json())
    assert not Export.objects.exists()


def test_one_person_has_at_most_five_exports_on_their_way(api, dana, arti, storyboard, panel):
    for _ in range(export_services.MAX_WAITING):
        ask(storyboard, dana, kind="pdf")
    refused = api(dana).post(f"/storyboards/{storyboard.id}/exports", {"kind": "pdf"})
    assert refused.status_code == 429 and "let one finish" in json.dumps(refused.json())
    assert (
        api(arti).post(f"/storyboards/{storyboard.id}/exports", {"kind": "pdf"}).status_code == 202
    )


def test_a_bundle_is_an_export_job_like_the_others(api, dana, vic, arti, project, storyboard):
    response = api(dana).post(f"/projects/{project.id}/bundle")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "bundle" and body["status"] == "queued" and body["storyboard"] is None
    assert api(dana).get(f"/exports/{body['id']}").json()["kind"] == "bundle"
    # It holds everything, members and their inboxes too: owners only.
    for member in (vic, arti):
        refused = api(member).post(f"/projects/{project.id}/bundle")
        assert refused.status_code == 403
    assert Export.objects.filter(kind="bundle").count() == 1


def test_owners_ask_for_a_bundle_on_the_project_page_and_follow_it(client, dana, arti, project):
    client.force_login(dana)
    assert 'id="project-bundles"' in client.get(f"/projects/{project.id}/").content.decode()
    asked = client.post(f"/projects/{project.id}/bundles/", HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting for an export worker" in asked and 'hx-trigger="every 2s"' in asked
    assert Export.objects.get().kind == "bundle"
    client.force_login(arti)
    assert client.post(f"/projects/{project.id}/bundles/").status_code == 403
    assert client.get(f"/projects/{project.id}/bundles/").status_code == 403
    assert 'id="project-bundles"' not in client.get(f"/projects/{project.id}/").content.decode()


def test_the_board_lists_its_recent_exports_newest_first(
    api, dana, storyboard, panel, django_assert_num_queries
):
    first, second = ask(storyboard, dana, kind="pdf"), ask(storyboard, dana, kind="zip")
    listed = api(dana).get(f"/storyboards/{storyboard.id}/exports").json()
    assert [e["id"] for e in listed] == [second.id, first.id]
    with django_assert_num_queries(1):  # the exports joined with who asked
        exports_for_storyboard(storyboard=storyboard)


def test_an_export_wakes_the_export_queue_once_committed(
    dana, storyboard, panel, django_capture_on_commit_callbacks
):
    export_queue().empty()
    with django_capture_on_commit_callbacks(execute=True):
        ask(storyboard, dana, kind="pdf")
    assert export_queue().count == 1


# --- the worker's side, in this process ------------------------------------------------------


def test_a_pdf_export_runs_and_its_events_reach_the_board(
    transactional_db, dana, storyboard, panel
):
    framed(panel, dana)
    with captured() as sent:
        export = ask(storyboard, dana, kind="pdf", layout=1)
        done = serve_one()
    assert done.id == export.id and done.status == "succeeded", done.error
    assert done.progress == 1.0 and done.attempts == 1 and done.size == done.file.size > 0
    with done.file.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    names = [m["event"] for m in sent]
    assert names[0] == "export.queued" and names[-1] == "export.succeeded"
    assert "export.progress" in names
    last = sent[-1]["data"]
    assert last["storyboard"] == storyboard.id and last["export"] == export.id
    assert last["download_url"] == f"/exports/{export.id}/download/"


def test_an_animatic_keeps_its_subtitles_beside_it(transactional_db, dana, storyboard, panel):
    boards.panel_update(panel=panel, dialogue="MARA\nWe close at two.", duration_ms=1000)
    framed(panel, dana)
    ask(storyboard, dana, kind="animatic")
    done = serve_one()
    assert done.status == "succeeded", done.error
    with done.srt.open("rb") as handle:
        assert "We close at two." in handle.read().decode()
    assert done.file.name.endswith(".mp4") and done.srt.name.endswith(".srt")


def test_a_renderer_that_fails_fails_the_export_with_a_sentence(
    transactional_db, dana, storyboard, panel, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("reportlab: /srv/slate/var/tmp page 3 overflow")

    monkeypatch.setattr("generation.exporters.render_export", broken)
    ask(storyboard, dana, kind="pdf")
    with captured() as sent:
        done = serve_one()
    assert done.status == "failed" and done.error == UNKNOWN
    assert "overflow" in done.error_detail and not done.file
    assert sent[-1]["event"] == "export.failed" and sent[-1]["data"]["error"] == UNKNOWN


def test_a_stale_export_goes_back_in_the_queue_then_fails_after_too_many_tries(
    dana, storyboard, panel, settings
):
    export = ask(storyboard, dana, kind="pdf")
    claimed = export_services.export_claim(worker="gone")
    long_ago = timezone.now() - timedelta(seconds=settings.SLATE_STALE_AFTER_S + 5)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=long_ago)
    assert export_services.exports_requeue_stale() == [export.id]
    export.refresh_from_db()
    assert export.status == "queued" and export.claim == "" and "stopped answering" in export.error
    # The presumed-dead worker comes back: its claim is gone, nothing it writes lands.
    assert export_services.export_heartbeat(export=claimed) is False
    assert export_services.export_fail(export=claimed, error="late") is False

    Export.objects.filter(pk=export.pk).update(attempts=settings.SLATE_MAX_ATTEMPTS)
    export_services.export_claim(worker="gone again")
    Export.objects.filter(pk=export.pk).update(heartbeat_at=long_ago)
    export_services.exports_requeue_stale()
    export.refresh_from_db()
    assert export.status == "failed" and "giving up" in export.error


def test_a_result_whose_claim_was_lost_is_dropped_with_its_files(
    dana, storyboard, panel, tmp_path, media_root
):
    ask(storyboard, dana, kind="pdf")
    claimed = export_services.export_claim(worker="slow")
    Export.objects.filter(pk=claimed.pk).update(claim="someone-else")
    made = tmp_path / "storyboard.pdf"
    made.write_bytes(b"%PDF-1.4 late")
    assert export_services.export_succeed(export=claimed, files={"file": made}) is False
    assert not list(media_root.rglob("*.pdf"))  # nothing stored, or stored and removed


def test_reconcile_takes_wakes_exports_redis_lost_too(dana, storyboard, panel):
    from django.core.management import call_command

    ask(storyboard, dana, kind="pdf")  # its wake-up never left: the transaction did not commit
    export_queue().empty()
    out = io.StringIO()
    call_command("reconcile_takes", stdout=out)
    assert "1 queued; 1 wake-up(s) re-sent" in out.getvalue().splitlines()[1]
    assert export_queue().count == 1


def test_takes_and_exports_share_one_claim(dana, storyboard, panel):
    """The same conditional UPDATE claims both: a row is claimed once, whoever asks."""
    export = ask(storyboard, dana, kind="pdf")
    rows = Export.objects.filter(pk=export.pk)
    first = machinery.jobs_claim(rows=rows, worker="one")
    second = machinery.jobs_claim(rows=rows, worker="two")
    assert Export.objects.filter(claim=first).count() == 1
    assert not Export.objects.filter(claim=second).exists()


# --- downloads and the board's dialog --------------------------------------------------------


def test_members_download_with_a_proper_filename_and_outsiders_get_404(
    transactional_db, client, dana, vic, olga, storyboard, panel
):
    boards.storyboard_update(storyboard=storyboard, title="Opening Night")
    framed(panel, dana)
    ask(storyboard, dana, kind="zip")
    done = serve_one()
    url = f"/exports/{done.id}/download/"
    client.force_login(vic)
    response = client.get(url)
    assert response.status_code == 200
    assert 'filename="opening-night-takes.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "manifest.json" in archive.namelist()
    assert client.get(url + "?part=srt").status_code == 404  # a ZIP has no subtitles
    client.force_login(olga)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 404


def test_an_animatics_subtitles_download_as_utf8(transactional_db, client, dana, storyboard, panel):
    boards.panel_update(panel=panel, dialogue="ZOË\nÀ deux heures. 🎬", duration_ms=1000)
    ask(storyboard, dana, kind="animatic")
    done = serve_one()
    client.force_login(dana)
    response = client.get(f"/exports/{done.id}/download/?part=srt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "À deux heures. 🎬" in b"".join(response.streaming_content).decode("utf-8")


def test_an_export_worker_sweeps_the_scratch_of_workers_that_died(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid now belongs to nobody: a worker killed with -9
    dead = tmp_path / f"{SCRATCH_PREFIX}{child.pid}"
    (dead / "export-7-x" / "animatic-stills").mkdir(parents=True)
    (dead / "export-7-x" / "animatic-stills" / "00000.png").write_bytes(b"stale")
    alive = tmp_path / f"{SCRATCH_PREFIX}{os.getppid()}"  # another worker, still running
    alive.mkdir()
    other = tmp_path / "slate-exports-notes"  # not a worker's: left alone
    other.mkdir()
    mine = scratch_folder()
    assert mine == tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}" and mine.is_dir()
    assert not dead.exists() and alive.exists() and other.exists()


def test_an_unfinished_export_has_nothing_to_download(client, dana, storyboard, panel):
    export = ask(storyboard, dana, kind="pdf")
    client.force_login(dana)
    assert client.get(f"/exports/{export.id}/download/").status_code == 404


def test_the_board_page_offers_exports_and_its_dialog_asks_for_one(
    client, arti, olga, storyboard, panel
):
    client.force_login(arti)
    page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert "data-open-exports" in page and 'id="exports"' in page
    listed = client.post(f"/storyboards/{storyboard.id}/exports/", {"choice": "pdf-3"})
    assert listed.status_code == 200
    export = Export.objects.get()
    assert export.options == {"layout": 3} and f'id="export-{export.id}"' in listed.content.decode()
    refused = client.post(f"/storyboards/{storyboard.id}/exports/", {"choice": "gif"})
    assert refused.status_code == 422 and Export.objects.count() == 1
    client.force_login(olga)
    assert client.get(f"/storyboards/{storyboard.id}/exports/").status_code == 404


# --- real processes --------------------------------------------------------------------------


@pytest.mark.worker
def test_export_events_reach_a_board_socket_from_a_real_worker(
    processes, storyboard, panel, dana, vic
):
    processes.export_worker()
    framed(panel, dana)
    token = boards.token_issue(user=vic)

    async def watch():
        from channels.db import database_sync_to_async

        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        assert (await comm.connect())[0]
        await comm.receive_from()  # hello
        await database_sync_to_async(ask)(storyboard, dana, kind="pdf")
        done, seen = await events_until(comm, "export.succeeded", limit=60)
        await comm.disconnect()
        return done, [m["type"] for m in seen]

    done, seen = async_to_sync(watch)()
    assert seen[0] == "export.queued" and "export.progress" in seen, seen
    assert done["download_url"].endswith("/download/"), processes.logs()


@pytest.mark.worker
def test_the_board_page_hears_an_export_row_live(processes, storyboard, panel, dana, arti):
    processes.export_worker()
    cookie = session_cookie(arti)

    async def watch():
        from channels.db import database_sync_to_async

        page = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookie)
        assert (await page.connect())[0]
        await page.receive_from()  # hello
        export = await database_sync_to_async(ask)(storyboard, dana, kind="zip")
        text = await live_until(page, "Download", limit=60)
        await page.disconnect()
        return export, text

    export, text = async_to_sync(watch)()
    assert f'id="export-{export.id}"' in text and f"/exports/{export.id}/download/" in text


@pytest.mark.worker
def test_a_killed_export_worker_never_strands_its_export(processes, storyboard, dana, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    fast_recovery = {"SLATE_STALE_AFTER_S": 3, "SLATE_RECONCILE_EVERY_S": 1, "SLATE_HEARTBEAT_S": 1,
                     "SLATE_STEP_DELAY_S": 0.4, "TMPDIR": scratch}  # fmt: skip
    panels = [
        boards.panel_create(storyboard=storyboard, user=dana, prompt=f"shot {n}") for n in range(12)
    ]
    for panel in panels[:2]:
        framed(panel, dana)
    first = processes.export_worker(**fast_recovery)
    export = ask(storyboard, dana, kind="zip")  # 12 panels, 0.4 s each: about 5 s
    wait_for(
        lambda: Export.objects.filter(pk=export.pk, status="running", progress__gt=0).exists(),
        message="the export to start",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    left_behind = scratch / f"{SCRATCH_PREFIX}{first.pid}"
    assert list(left_behind.iterdir())  # kill -9: its work folder was never cleaned up
    processes.export_worker(**fast_recovery)  # `make run` restarts a dead worker the same way

    def finished():
        row = Export.objects.get(pk=export.pk)
        return row if row.status not in ("queued", "running") else None

    done = wait_for(finished, timeout=120, message="the export to finish")
    assert done.status == "succeeded", (done.status, done.error, processes.logs())
    assert done.attempts == 2 and done.error == ""
    assert not left_behind.exists()  # the next worker swept it
    with done.file.open("rb") as handle:
        manifest = json.loads(zipfile.ZipFile(handle).read("manifest.json"))
    assert len(manifest["takes"]) == 2


@pytest.mark.browser
def test_the_export_dialog_follows_an_export_to_its_download_link(
    processes, storyboard, panel, dana
):
    from tests.test_browser import assert_not_reloaded, chromium, open_board

    framed(panel, dana)
    host = processes.studio()
    processes.export_worker()
    with chromium() as browser:
        page = open_board(browser, host, "dana", storyboard.id)
        page.click("[data-open-exports]")
        page.wait_for_selector("#exports[open] #export-list", state="attached")
        page.check("input[value=pdf-3]")
        page.keyboard.press("Enter")  # the form submits from the keyboard too
        row = page.wait_for_selector("#export-list .export-row")
        assert "3 per row" in row.inner_text()
        link = page.wait_for_selector("#export-list .export-links a[download]", timeout=60_000)
        assert link.get_attribute("href").endswith("/download/")
        assert page.locator("#export-list .export-row").count() == 1  # live and listed: once
        if os.environ.get("SLATE_SHOTS"):
            page.screenshot(path=os.environ["SLATE_SHOTS"])
        page.keyboard.press("Escape")
        assert page.locator("#exports[open]").count() == 0
        assert_not_reloaded(page)
