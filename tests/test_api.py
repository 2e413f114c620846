"""The JSON API contract: paths, codes and field names as the foundation issue gives them."""

import pytest

from generation.models import Take
from storyboards.models import Comment, Membership, Panel, Project, Storyboard
from tests.conftest import token_for

pytestmark = pytest.mark.django_db


def test_token_for_good_credentials_and_401_for_bad(client, dana):
    ok = client.post(
        "/api/auth/token",
        {"username": "dana", "password": "dana-secret-pw"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and len(ok.json()["token"]) > 20
    bad = client.post(
        "/api/auth/token", {"username": "dana", "password": "nope"}, content_type="application/json"
    )
    assert bad.status_code == 401 and "token" not in bad.json()


def test_requests_without_valid_auth_get_401(api, client):
    assert api(None).get("/projects").status_code == 401
    assert (
        client.get("/api/projects", headers={"Authorization": "Bearer not-a-token"}).status_code
        == 401
    )


def test_project_create_list_and_detail(api, dana):
    created = api(dana).post("/projects", {"name": "Heist"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Heist" and body["members"] == [
        {"id": body["members"][0]["id"], "username": "dana", "role": "owner"}
    ]
    assert [p["name"] for p in api(dana).get("/projects").json()] == ["Heist"]
    detail = api(dana).get(f"/projects/{body['id']}").json()
    assert detail["storyboards"] == [] and detail["members"][0]["role"] == "owner"


def test_project_name_is_required(api, dana):
    assert api(dana).post("/projects", {"name": "  "}).status_code == 422
    assert api(dana).post("/projects", {}).status_code == 422
    assert not Project.objects.exists()


def test_owner_adds_member_with_role(api, dana, olga, project):
    response = api(dana).post(
        f"/projects/{project.id}/members", {"username": "olga", "role": "writer"}
    )
    assert response.status_code == 201 and response.json()["role"] == "writer"
    assert Membership.objects.get(project=project, user=olga).role == "writer"


def test_member_add_rejects_unknown_user_and_role(api, dana, olga, project):
    assert (
        api(dana)
        .post(f"/projects/{project.id}/members", {"username": "nobody", "role": "artist"})
        .status_code
        == 422
    )
    assert (
        api(dana)
        .post(f"/projects/{project.id}/members", {"username": "olga", "role": "producer"})
        .status_code
        == 422
    )
    assert (
        api(dana)
        .post(f"/projects/{project.id}/members", {"username": "arti", "role": "viewer"})
        .status_code
        == 409  # already a member: a conflict with the current state
    )
    assert not Membership.objects.filter(user=olga).exists()


def test_last_owner_cannot_leave_or_be_demoted_409(api, dana, project):
    mine = Membership.objects.get(project=project, user=dana)
    assert (
        api(dana).patch(f"/projects/{project.id}/members/{mine.id}", {"role": "viewer"}).status_code
        == 409
    )
    assert api(dana).delete(f"/projects/{project.id}/members/{mine.id}").status_code == 409
    assert Membership.objects.get(pk=mine.pk).role == "owner"


def test_owner_changes_role_and_removes_member(api, dana, arti, project):
    theirs = Membership.objects.get(project=project, user=arti)
    assert (
        api(dana)
        .patch(f"/projects/{project.id}/members/{theirs.id}", {"role": "director"})
        .json()["role"]
        == "director"
    )
    assert api(dana).delete(f"/projects/{project.id}/members/{theirs.id}").status_code == 204
    assert not Membership.objects.filter(pk=theirs.pk).exists()


def test_storyboard_and_panels_in_order(api, dana, project):
    board = api(dana).post(f"/projects/{project.id}/storyboards", {"title": "Act One"})
    assert board.status_code == 201
    board_id = board.json()["id"]
    for prompt in ("wide: the city", "close: her eyes", "insert: the key"):
        created = api(dana).post(
            f"/storyboards/{board_id}/panels", {"prompt": prompt, "shot_type": "cu"}
        )
        assert created.status_code == 201
    panels = api(dana).get(f"/storyboards/{board_id}").json()["panels"]
    assert [p["prompt"] for p in panels] == ["wide: the city", "close: her eyes", "insert: the key"]
    assert [p["position"] for p in panels] == [0, 1, 2]
    assert api(dana).get(f"/projects/{project.id}").json()["storyboards"][0]["title"] == "Act One"


def test_panel_patch_updates_fields_and_moves(api, dana, storyboard, panel):
    other = api(dana).post(f"/storyboards/{storyboard.id}/panels", {"prompt": "second"}).json()
    patched = api(dana).patch(
        f"/panels/{panel.id}",
        {"dialogue": "We close at nine.", "duration_ms": 3500, "camera_move": "dolly"},
    )
    assert patched.status_code == 200
    assert (
        patched.json()["dialogue"] == "We close at nine." and patched.json()["duration_ms"] == 3500
    )
    moved = api(dana).patch(f"/panels/{other['id']}", {"position": 0})
    assert moved.json()["position"] == 0
    assert list(
        Panel.objects.filter(storyboard=storyboard)
        .order_by("position")
        .values_list("id", flat=True)
    ) == [other["id"], panel.id]


def test_panel_patch_rejects_bad_values(api, dana, panel):
    for body in ({"duration_ms": 5}, {"shot_type": "drone"}, {"prompt": "x" * 2001}, {"position": 9},
                 {"selected_take": 999999}, {"prompt": "nul\x00byte"}):  # fmt: skip
        response = api(dana).patch(f"/panels/{panel.id}", body)
        assert response.status_code == 422, body
    panel.refresh_from_db()
    assert panel.prompt == "a diner at night, rain" and panel.duration_ms == 2000


def test_prompt_over_2000_characters_gets_a_clear_422(api, dana, storyboard):
    response = api(dana).post(f"/storyboards/{storyboard.id}/panels", {"prompt": "x" * 2001})
    assert response.status_code == 422
    assert "2000" in str(response.json())
    assert not Panel.objects.filter(storyboard=storyboard).exists()


def test_take_request_is_202_and_queued(api, dana, panel):
    response = api(dana).post(
        f"/panels/{panel.id}/takes", {"seed": 42, "steps": 3, "width": 64, "height": 48}
    )
    assert response.status_code == 202
    take = response.json()
    assert take["status"] == "queued" and take["seed"] == 42 and take["model"] == "tiny"
    assert (take["width"], take["height"], take["steps"]) == (64, 48, 3)
    assert take["queue_position"] == 1 and take["parent_take"] is None and take["image_url"] is None
    fetched = api(dana).get(f"/takes/{take['id']}").json()
    for key in (
        "status",
        "progress",
        "image_url",
        "seed",
        "model",
        "error",
        "queue_position",
        "parent_take",
        "timings",
    ):
        assert key in fetched


def test_comments_list_and_create(api, vic, panel):
    created = api(vic).post(f"/panels/{panel.id}/comments", {"body": "Love the rain."})
    assert created.status_code == 201 and created.json()["author"] == "vic"
    assert [c["body"] for c in api(vic).get(f"/panels/{panel.id}/comments").json()] == [
        "Love the rain."
    ]
    assert api(vic).post(f"/panels/{panel.id}/comments", {"body": "   "}).status_code == 422
    assert Comment.objects.count() == 1


def test_selecting_a_take_of_another_panel_is_refused(api, dana, storyboard, panel):
    other = api(dana).post(f"/storyboards/{storyboard.id}/panels", {"prompt": "b"}).json()
    take_id = api(dana).post(f"/panels/{other['id']}/takes", {}).json()["id"]
    Take.objects.filter(pk=take_id).update(status="succeeded")
    assert api(dana).patch(f"/panels/{panel.id}", {"selected_take": take_id}).status_code == 422
    assert (
        api(dana)
        .patch(f"/panels/{other['id']}", {"selected_take": take_id})
        .json()["selected_take"]
        == take_id
    )


def test_openapi_schema_lists_the_contract(client):
    schema = client.get("/api/openapi.json").json()
    for path in ("/api/auth/token", "/api/projects", "/api/projects/{project_id}", "/api/projects/{project_id}/members",
                 "/api/projects/{project_id}/storyboards", "/api/storyboards/{storyboard_id}",
                 "/api/storyboards/{storyboard_id}/panels", "/api/panels/{panel_id}", "/api/panels/{panel_id}/takes",
                 "/api/takes/{take_id}", "/api/panels/{panel_id}/comments", "/api/takes/{take_id}/cancel",
                 "/api/takes/{take_id}/retry", "/api/storyboards/{storyboard_id}/generate-all"):  # fmt: skip
        assert path in schema["paths"], path
    assert client.get("/api/docs").status_code == 200


def test_huge_ids_are_404_or_422_not_500(api, dana):
    assert api(dana).get("/projects/99999999999999999999999").status_code in (404, 422)
    assert api(dana).get("/storyboards/0").status_code in (404, 422)
    assert Storyboard.objects.count() == 0


def test_panel_patch_with_a_bad_position_changes_nothing(api, dana, panel):
    response = api(dana).patch(f"/panels/{panel.id}", {"prompt": "changed", "position": 7})
    assert response.status_code == 422
    panel.refresh_from_db()
    assert panel.prompt == "a diner at night, rain"


def test_writes_without_auth_are_401_not_a_csrf_failure(client, panel):
    response = client.post("/api/projects", {"name": "x"}, content_type="application/json")
    assert response.status_code == 401


def test_lone_surrogates_and_huge_bodies_get_clear_4xx(client, api, dana, panel):
    headers = {"Authorization": f"Bearer {token_for(dana)}"}
    for path, raw in [
        (f"/api/panels/{panel.id}", '{"notes": "x\\udfffy"}'),
        (f"/api/panels/{panel.id}", '{"prompt": "\\ud800"}'),
    ]:
        assert (
            client.patch(path, raw, content_type="application/json", headers=headers).status_code
            == 422
        )
    bad_login = client.post(
        "/api/auth/token",
        '{"username": "x\\ud800", "password": "y"}',
        content_type="application/json",
    )
    assert bad_login.status_code == 422
    huge = api(dana).patch(f"/panels/{panel.id}", {"notes": "x" * (25 * 2**20)})
    assert huge.status_code == 413 and "MB" in huge.json()["detail"]
    panel.refresh_from_db()
    assert panel.notes == ""


def test_every_endpoint_declares_its_error_answers(client):
    schema = client.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path != "/api/auth/token":
                assert {"401", "404", "422"} <= set(operation["responses"]), (method, path)


def test_listing_a_panels_takes_costs_the_same_for_one_or_many(api, dana, panel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(dana)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/panels/{panel.id}/takes").status_code == 200
        return len(captured)

    client.post(f"/panels/{panel.id}/takes", {})
    one = count()
    for _ in range(5):
        client.post(f"/panels/{panel.id}/takes", {})
    # token, panel, membership, queue positions, takes with authors: the same for 1 or 6 takes
    assert count() == one
