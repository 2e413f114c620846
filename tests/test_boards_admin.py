"""Renaming and deleting storyboards and projects: who may, what is refused, what is told, and
what goes (rows, files, waiting takes) when something is deleted.

The cast of conftest.py (Dana owns, Arti is an artist, Vic a viewer, Olga an outsider) plus Dirk,
a director: he supervises (deletes storyboards) but does not manage (cannot delete the project).
"""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404
from django.utils import timezone

from generation import services as takes
from generation.models import Take
from storyboards import selectors
from storyboards import services as boards
from storyboards.models import Comment, Membership, Panel, Project, Script, Storyboard
from studio import events

from .conftest import make_user, wait_for

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def dirk(django_user_model, project):
    director = make_user(django_user_model, "dirk")
    boards.member_add(project=project, username="dirk", role="director")
    return director


def finished_take(panel, author, name: str) -> Take:
    """A take as a worker leaves it: an image and a video in storage."""
    take = Take.objects.create(panel=panel, author=author, model_key="tiny", seed=1, steps=2,
                               guidance=1.0, width=64, height=64, status="succeeded")  # fmt: skip
    take.image.save(f"p/{name}.png", ContentFile(b"\x89PNG fake"), save=False)
    take.video.save(f"p/{name}.mp4", ContentFile(b"fake mp4"), save=False)
    take.save()
    return take


def deleted(panel) -> None:
    """Off the board, kept for undo, as panel deletion leaves it."""
    Panel.objects.filter(pk=panel.pk).update(deleted_at=timezone.now())


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """send(action) runs it, commits, and returns the events it published as (name, data)."""

    def run(action):
        with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
            action()
        return [(m["event"], m["data"]) for m in sent]

    return run


# --- renaming and reframing a storyboard ---------------------------------------------------


def test_storyboard_update_renames_and_tells_the_board(send, storyboard):
    sent = send(lambda: boards.storyboard_update(storyboard=storyboard, title="  Cold Open  "))
    assert sent == [("storyboard.updated", {**sent[0][1], "storyboard": storyboard.id})]
    storyboard.refresh_from_db()
    assert storyboard.title == "Cold Open"


def test_apply_to_panels_reframes_every_live_panel_and_tells_each(send, storyboard, panel, dana):
    scope = boards.panel_create(storyboard=storyboard, user=dana, aspect_ratio="2.39:1")
    gone = boards.panel_create(storyboard=storyboard, user=dana, aspect_ratio="4:3")
    deleted(gone)
    sent = send(
        lambda: boards.storyboard_update(
            storyboard=storyboard, aspect_ratio="2.39:1", apply_to_panels=True
        )
    )
    # Only the panel that changed is told about: the scope panel was 2.39:1 already.
    told = [(name, data.get("panel")) for name, data in sent]
    assert told == [("storyboard.updated", None), ("panel.updated", panel.id)]
    assert Storyboard.objects.get(pk=storyboard.pk).aspect_ratio == "2.39:1"
    assert {p.aspect_ratio for p in Panel.objects.filter(storyboard=storyboard)} == {"2.39:1"}
    assert Panel.all_objects.get(pk=gone.pk).aspect_ratio == "4:3"  # deleted panels keep theirs
    assert Panel.objects.get(pk=scope.pk).aspect_ratio == "2.39:1"


def test_changing_the_default_alone_leaves_panels_as_they_are(send, storyboard, panel):
    sent = send(lambda: boards.storyboard_update(storyboard=storyboard, aspect_ratio="1:1"))
    assert [name for name, _ in sent] == ["storyboard.updated"]
    assert Panel.objects.get(pk=panel.pk).aspect_ratio == "16:9"


@pytest.mark.parametrize(
    "change, field",
    [({"title": ""}, "title"), ({"title": "   "}, "title"), ({"title": "x" * 201}, "title"),
     ({"title": "nul\x00"}, "title"), ({"aspect_ratio": "3:2"}, "aspect_ratio"),
     ({"title": "Fine", "aspect_ratio": "wide", "apply_to_panels": True}, "aspect_ratio")],
)  # fmt: skip
def test_storyboard_update_refuses_bad_input_and_changes_nothing(
    send, storyboard, panel, change, field
):
    with pytest.raises(ValidationError) as refused:
        send(lambda: boards.storyboard_update(storyboard=storyboard, **change))
    assert field in refused.value.message_dict
    fresh = Storyboard.objects.get(pk=storyboard.pk)
    assert (fresh.title, fresh.aspect_ratio) == ("Opening", "16:9")
    assert Panel.objects.get(pk=panel.pk).aspect_ratio == "16:9"


def test_project_update_renames_and_refuses_a_blank_name(send, project):
    assert send(lambda: boards.project_update(project=project, name=" Day Shift ")) == []
    assert Project.objects.get(pk=project.pk).name == "Day Shift"
    for bad in ("", "  ", "x" * 201, "a\x00b"):
        with pytest.raises(ValidationError):
            boards.project_update(project=project, name=bad)
    assert Project.objects.get(pk=project.pk).name == "Day Shift"


# --- deleting ------------------------------------------------------------------------------


def test_project_delete_removes_every_row_and_the_take_files_after_commit(
    send, project, storyboard, panel, dana, arti, django_capture_on_commit_callbacks
):
    second = boards.storyboard_create(project=project, user=dana, title="Second")
    other_panel = boards.panel_create(storyboard=second, user=dana, prompt="b")
    deleted(other_panel)  # deleted panels go too
    mine = [finished_take(panel, dana, "a"), finished_take(other_panel, arti, "b")]
    boards.comment_add(panel=panel, author=arti, body="Wider.")
    Script.objects.create(project=project, title="Draft", created_by=dana)
    elsewhere = boards.project_create(user=arti, name="Elsewhere")
    kept = finished_take(
        boards.panel_create(
            storyboard=boards.storyboard_create(project=elsewhere, user=arti, title="K"),
            user=arti,
        ),
        arti, "kept",
    )  # fmt: skip
    names = [f.name for take in mine for f in (take.image, take.video)]
    assert all(default_storage.exists(name) for name in names)

    sent = send(lambda: boards.project_delete(project=project, by=dana))

    assert sorted(data["storyboard"] for name, data in sent if name == "storyboard.deleted") == [
        storyboard.id, second.id,
    ]  # fmt: skip
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Storyboard.objects.filter(project=project.pk).exists()
    assert not Panel.all_objects.filter(pk__in=[panel.pk, other_panel.pk]).exists()
    assert list(Take.objects.all()) == [kept] and not Comment.objects.exists()
    assert not Script.objects.exists() and not Membership.objects.filter(project=project.pk)
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(kept.image.name) and default_storage.exists(kept.video.name)


def test_take_files_stay_until_the_deletion_commits(project, panel, dana):
    take = finished_take(panel, dana, "a")
    boards.project_delete(project=project, by=dana)  # the test's transaction never commits
    assert default_storage.exists(take.image.name)


def test_storyboard_delete_tells_the_board_first_and_removes_its_takes(
    send, storyboard, panel, dana
):
    take, board_id = finished_take(panel, dana, "a"), storyboard.id
    sent = send(lambda: boards.storyboard_delete(storyboard=storyboard, by=dana))
    assert sent[0] == ("storyboard.deleted", {**sent[0][1], "storyboard": board_id})
    assert not Storyboard.objects.filter(pk=board_id).exists()
    assert not Take.objects.exists() and not default_storage.exists(take.image.name)


def test_services_check_the_right_themselves(storyboard, project, arti, dirk, olga):
    board_id = storyboard.id
    with pytest.raises(PermissionDenied):
        boards.storyboard_delete(storyboard=storyboard, by=arti)
    with pytest.raises(PermissionDenied):
        boards.project_delete(project=project, by=dirk)
    with pytest.raises(Http404):
        boards.project_delete(project=project, by=olga)
    assert Storyboard.objects.filter(pk=board_id).exists() and Project.objects.exists()
    boards.storyboard_delete(storyboard=storyboard, by=dirk)  # directors supervise
    assert not Storyboard.objects.filter(pk=board_id).exists()


def test_waiting_and_running_takes_of_a_deleted_board_leave_workers_nothing_to_trip_on(
    send, project, storyboard, panel, dana, arti
):
    running = takes.take_request(panel=panel, author=dana, seed=1)
    [claimed] = takes.take_claim_batch(worker="gpu-0")
    assert claimed.id == running.id
    queued = takes.take_request(panel=panel, author=dana, seed=2)
    other_board = boards.storyboard_create(project=project, user=dana, title="Other")
    other_panel = boards.panel_create(storyboard=other_board, user=dana, prompt="rain")
    behind = takes.take_request(panel=other_panel, author=arti, seed=3)

    sent = send(lambda: boards.storyboard_delete(storyboard=storyboard, by=dana))

    # Everyone else's waiting take moves up, and the board's own takes are simply gone.
    [(_, positions)] = [(n, d) for n, d in sent if n == "queue.updated"]
    assert positions["storyboard"] == other_board.id
    assert positions["positions"] == {str(behind.id): 1}
    assert not Take.objects.filter(pk__in=[running.id, queued.id]).exists()
    # The worker holding the running take: its heartbeat says stop, every write is a no-op.
    assert takes.takes_heartbeat(takes=[claimed], progress=0.5) == {claimed.id}
    assert takes.take_mark_cancelled(take=claimed) is False
    assert takes.take_fail(take=claimed, error="boom") is False
    saved = takes.take_succeed(take=claimed, png=b"png", mp4=None, timings={}, gpu_seconds=1.0)
    assert saved is False and not default_storage.exists(
        f"takes/p{project.id}/take-{claimed.id}.png"
    )
    # A wake-up for the queued take finds the next take in line, not the deleted one.
    [next_up] = takes.take_claim_batch(worker="gpu-0")
    assert next_up.id == behind.id


@pytest.mark.worker
def test_a_real_worker_keeps_serving_after_its_running_take_is_deleted(
    processes, project, storyboard, panel, dana
):
    worker = processes.worker(SLATE_STEP_DELAY_S=0.25)  # a long take that costs no CPU
    warm = takes.take_request(panel=panel, author=dana)
    wait_for(lambda: Take.objects.filter(pk=warm.pk, status="succeeded").exists(), timeout=90,
             message="the warm-up take")  # fmt: skip
    slow = takes.take_request(panel=panel, author=dana, steps=40)
    takes.take_request(panel=panel, author=dana, seed=5)  # waiting behind it
    wait_for(
        lambda: Take.objects.filter(pk=slow.pk, status="running", progress__gt=0).exists(),
        message="a running take",
    )
    boards.storyboard_delete(storyboard=storyboard, by=dana)
    board = boards.storyboard_create(project=project, user=dana, title="Next")
    after = takes.take_request(panel=boards.panel_create(storyboard=board, user=dana, prompt="x"),
                               author=dana)  # fmt: skip
    wait_for(lambda: Take.objects.filter(pk=after.pk, status="succeeded").exists(), timeout=90,
             message="a take after the deletion")  # fmt: skip
    assert worker.poll() is None, processes.logs()
    assert "Traceback" not in processes.logs(), processes.logs()
    assert not Take.objects.exclude(pk__in=[after.pk]).exists()


# --- the JSON API ----------------------------------------------------------------------------


def test_api_patch_storyboard_renames_reframes_and_answers_the_board(api, arti, storyboard, panel):
    answer = api(arti).patch(f"/storyboards/{storyboard.id}",
                             {"title": "Cold Open", "aspect_ratio": "1.85:1", "apply_to_panels": True})  # fmt: skip
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["title"], body["aspect_ratio"]) == ("Cold Open", "1.85:1")
    assert [p["aspect_ratio"] for p in body["panels"]] == ["1.85:1"]
    assert api(arti).get(f"/storyboards/{storyboard.id}").json()["aspect_ratio"] == "1.85:1"


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "   "}, {"title": "x" * 201}, {"title": "a\x00b"},
     {"aspect_ratio": "3:2"}, {"title": "Fine", "aspect_ratio": "3:2", "apply_to_panels": True},
     {"apply_to_panels": "sometimes"}],
)  # fmt: skip
def test_api_patch_storyboard_refuses_bad_input_422_and_changes_nothing(
    api, dana, storyboard, panel, body
):
    answer = api(dana).patch(f"/storyboards/{storyboard.id}", body)
    assert answer.status_code == 422, (body, answer.status_code)
    fresh = Storyboard.objects.get(pk=storyboard.pk)
    assert (fresh.title, fresh.aspect_ratio) == ("Opening", "16:9")
    assert Panel.objects.get(pk=panel.pk).aspect_ratio == "16:9"


def test_api_storyboard_created_with_an_aspect_ratio(api, dana, project):
    made = api(dana).post(
        f"/projects/{project.id}/storyboards", {"title": "B", "aspect_ratio": "9:16"}
    )
    assert made.status_code == 201 and made.json()["aspect_ratio"] == "9:16"
    plain = api(dana).post(f"/projects/{project.id}/storyboards", {"title": "C"})
    assert plain.json()["aspect_ratio"] == "16:9"
    bad = api(dana).post(
        f"/projects/{project.id}/storyboards", {"title": "D", "aspect_ratio": "2:1"}
    )
    assert bad.status_code == 422 and Storyboard.objects.count() == 2


def test_api_delete_storyboard_is_for_directors_and_owners(api, arti, vic, olga, dirk, storyboard):
    path = f"/storyboards/{storyboard.id}"
    assert api(olga).delete(path).status_code == 404
    assert api(vic).delete(path).status_code == 403
    assert api(arti).delete(path).status_code == 403
    assert Storyboard.objects.filter(pk=storyboard.pk).exists()
    assert api(dirk).delete(path).status_code == 204
    assert not Storyboard.objects.filter(pk=storyboard.pk).exists()
    assert api(dirk).delete(path).status_code == 404


def test_api_rename_project_is_for_owners(api, dana, arti, dirk, vic, olga, project):
    path = f"/projects/{project.id}"
    assert api(olga).patch(path, {"name": "Mine"}).status_code == 404
    for user in (vic, arti, dirk):
        assert api(user).patch(path, {"name": "Mine"}).status_code == 403
    for bad in ({"name": ""}, {"name": "  "}, {"name": "x" * 201}, {}):
        assert api(dana).patch(path, bad).status_code == 422
    assert Project.objects.get(pk=project.pk).name == "Night Shift"
    renamed = api(dana).patch(path, {"name": "Day Shift"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Day Shift" and renamed.json()["role"] == "owner"


def test_api_delete_project_is_for_owners(api, dana, arti, dirk, vic, olga, project, storyboard):
    path = f"/projects/{project.id}"
    assert api(olga).delete(path).status_code == 404
    for user in (vic, arti, dirk):
        assert api(user).delete(path).status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()
    assert api(dana).delete(path).status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Storyboard.objects.filter(pk=storyboard.pk).exists()
    assert api(dana).get(path).status_code == 404


# --- pages -----------------------------------------------------------------------------------


def test_settings_fragment_for_editors_with_delete_only_for_supervisors(
    client, dana, arti, vic, olga, storyboard, panel
):
    url = f"/storyboards/{storyboard.id}/settings/"
    client.force_login(olga)
    assert client.get(url).status_code == 404
    client.force_login(vic)
    assert client.get(url).status_code == 403
    client.force_login(arti)
    page = client.get(url, headers=HTMX).content.decode()
    assert 'hx-target="#settings-body"' in page and "Also reframe the 1 existing panel" in page
    assert "Delete storyboard" not in page
    client.force_login(dana)
    page = client.get(url, headers=HTMX).content.decode()
    assert 'value="16:9" selected' in page and "Delete storyboard" in page
    assert "Gone with it: 1 panel, 0 takes" in page


def test_settings_save_answers_204_with_a_trigger(client, arti, storyboard, panel):
    client.force_login(arti)
    answer = client.post(f"/storyboards/{storyboard.id}/settings/",
                         {"title": "Cold Open", "aspect_ratio": "4:3", "apply_to_panels": "1"},
                         headers=HTMX)  # fmt: skip
    assert answer.status_code == 204 and answer["HX-Trigger"] == "board-settings-saved"
    fresh = Storyboard.objects.get(pk=storyboard.pk)
    assert (fresh.title, fresh.aspect_ratio) == ("Cold Open", "4:3")
    assert Panel.objects.get(pk=panel.pk).aspect_ratio == "4:3"


def test_settings_refused_comes_back_422_escaped_and_changes_nothing(client, dana, storyboard):
    client.force_login(dana)
    attack = "<img src=x onerror=alert(1)>" + "x" * 200
    answer = client.post(f"/storyboards/{storyboard.id}/settings/",
                         {"title": attack, "aspect_ratio": "1:1"}, headers=HTMX)  # fmt: skip
    assert answer.status_code == 422
    body = answer.content.decode()
    assert 'role="alert"' in body and "200 characters or fewer" in body
    assert "<img" not in body and "&lt;img src=x" in body
    fresh = Storyboard.objects.get(pk=storyboard.pk)
    assert (fresh.title, fresh.aspect_ratio) == ("Opening", "16:9")
    bad_ratio = client.post(f"/storyboards/{storyboard.id}/settings/",
                            {"title": "Fine", "aspect_ratio": "<b>"}, headers=HTMX)  # fmt: skip
    assert (
        bad_ratio.status_code == 422 and "Aspect ratio must be one of" in bad_ratio.content.decode()
    )
    assert Storyboard.objects.get(pk=storyboard.pk).title == "Opening"


def test_project_page_renames_a_storyboard_and_goes_back(client, arti, project, storyboard):
    client.force_login(arti)
    url = f"/storyboards/{storyboard.id}/settings/"
    answer = client.post(url, {"title": "Cold Open"})
    assert answer.status_code == 302 and answer["Location"] == f"/projects/{project.id}/"
    assert Storyboard.objects.get(pk=storyboard.pk).aspect_ratio == "16:9"  # not in that form
    refused = client.post(url, {"title": " "}, follow=True)
    assert "Give the storyboard a title." in refused.content.decode()
    assert Storyboard.objects.get(pk=storyboard.pk).title == "Cold Open"


def test_storyboard_delete_page_action(client, dana, arti, vic, olga, project, storyboard, panel):
    url = f"/storyboards/{storyboard.id}/delete/"
    for user, code in ((olga, 404), (vic, 403), (arti, 403)):
        client.force_login(user)
        assert client.post(url).status_code == code, user
    assert client.get(url).status_code == 405
    assert Storyboard.objects.filter(pk=storyboard.pk).exists()
    client.force_login(dana)
    answer = client.post(url, headers=HTMX)
    assert answer.status_code == 204 and answer["HX-Redirect"] == f"/projects/{project.id}/"
    assert not Storyboard.objects.filter(pk=storyboard.pk).exists()
    assert "was deleted" in client.get(answer["HX-Redirect"]).content.decode()


def test_storyboard_delete_without_htmx_redirects(client, dirk, project, storyboard):
    client.force_login(dirk)
    answer = client.post(f"/storyboards/{storyboard.id}/delete/")
    assert answer.status_code == 302 and answer["Location"] == f"/projects/{project.id}/"


def test_project_page_shows_each_role_its_controls(
    client, dana, arti, vic, project, storyboard, panel
):
    finished_take(panel, dana, "a")
    client.force_login(dana)
    page = client.get(f"/projects/{project.id}/").content.decode()
    assert "Delete project…" in page and "Rename project" in page
    assert "Gone with it: 1 panel, 1 take with their images" in page
    assert f'hx-post="/storyboards/{storyboard.id}/delete/"' in page
    client.force_login(arti)
    page = client.get(f"/projects/{project.id}/").content.decode()
    assert f'action="/storyboards/{storyboard.id}/settings/"' in page  # rename
    assert "/delete/" not in page and "Rename project" not in page
    client.force_login(vic)
    page = client.get(f"/projects/{project.id}/").content.decode()
    assert "/settings/" not in page and "/delete/" not in page and "/rename/" not in page


def test_project_rename_page_action(client, dana, arti, olga, project):
    url = f"/projects/{project.id}/rename/"
    client.force_login(olga)
    assert client.post(url, {"name": "Mine"}).status_code == 404
    client.force_login(arti)
    assert client.post(url, {"name": "Mine"}).status_code == 403
    client.force_login(dana)
    refused = client.post(url, {"name": "   "}, follow=True)
    assert "Give the project a name." in refused.content.decode()
    assert Project.objects.get(pk=project.pk).name == "Night Shift"
    assert client.post(url, {"name": "Day Shift"}).status_code == 302
    assert Project.objects.get(pk=project.pk).name == "Day Shift"


def test_project_delete_confirmation_names_what_is_lost(
    client, dana, project, storyboard, panel, django_assert_num_queries
):
    second = boards.storyboard_create(project=project, user=dana, title="Second")
    other = boards.panel_create(storyboard=second, user=dana, prompt="b")
    deleted(other)
    for name in ("a", "b", "c"):
        finished_take(panel, dana, name)
    boards.comment_add(panel=panel, author=dana, body="Good.")
    Script.objects.create(project=project, title="Draft", created_by=dana)
    client.force_login(dana)
    # session, user, membership+project, then one count each: storyboards, panels, takes,
    # comments, scripts, members
    with django_assert_num_queries(9):
        page = client.get(f"/projects/{project.id}/delete/").content.decode()
    assert ("2 storyboards, 2 panels, 3 takes with their images, 1 comment, 1 script, "
            "shared with 3 people") in page  # fmt: skip
    assert 'name="confirm"' in page


def test_project_delete_page_is_for_owners(client, arti, dirk, vic, olga, project):
    url = f"/projects/{project.id}/delete/"
    for user, code in ((olga, 404), (vic, 403), (arti, 403), (dirk, 403)):
        client.force_login(user)
        assert client.get(url).status_code == code, user
        assert client.post(url, {"confirm": "Night Shift"}).status_code == code, user
    assert Project.objects.filter(pk=project.pk).exists()


def test_project_delete_needs_the_name_typed(
    client, dana, project, storyboard, panel, django_capture_on_commit_callbacks
):
    take = finished_take(panel, dana, "a")
    client.force_login(dana)
    url = f"/projects/{project.id}/delete/"
    for typed in ("", "night shift", "Night"):
        refused = client.post(url, {"confirm": typed})
        assert refused.status_code == 422 and "Nothing was deleted" in refused.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"confirm": " Night Shift "})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not default_storage.exists(take.image.name)
    listing = client.get("/").content.decode()
    assert "Night Shift” and everything in it were deleted" in listing


def test_deletion_summary_counts_deleted_panels_too(project, storyboard, panel, dana):
    deleted(panel)
    assert selectors.project_deletion_summary(project) == {
        "storyboards": 1, "panels": 1, "takes": 0, "comments": 0, "scripts": 0, "members": 3,
    }  # fmt: skip
