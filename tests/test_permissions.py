"""Who may do what, on every endpoint, page and media file: outsiders get 404, never a hint."""

import pytest

from generation.models import Take
from storyboards.models import Comment, Panel, Project, Storyboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def take(panel, dana):
    from django.core.files.base import ContentFile

    take = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=1, steps=2, guidance=1.0,
                               width=64, height=64, status="succeeded")  # fmt: skip
    take.image.save("p/take-x.png", ContentFile(b"\x89PNG fake"), save=True)
    return take


def endpoints(ids):
    """(method, path, body) for every API route that touches a project."""
    p, s, n, t = ids["project"], ids["storyboard"], ids["panel"], ids["take"]
    return [
        ("get", f"/projects/{p}", None),
        ("post", f"/projects/{p}/members", {"username": "olga", "role": "viewer"}),
        ("post", f"/projects/{p}/storyboards", {"title": "B"}),
        ("get", f"/storyboards/{s}", None),
        ("post", f"/storyboards/{s}/panels", {"prompt": "x"}),
        ("post", f"/storyboards/{s}/generate-all", {}),
        ("patch", f"/panels/{n}", {"prompt": "changed"}),
        ("post", f"/panels/{n}/takes", {}),
        ("get", f"/panels/{n}/takes", None),
        ("get", f"/panels/{n}/comments", None),
        ("post", f"/panels/{n}/comments", {"body": "hi"}),
        ("get", f"/takes/{t}", None),
        ("post", f"/takes/{t}/cancel", {}),
        ("post", f"/takes/{t}/retry", {}),
        ("patch", f"/storyboards/{s}", {"title": "Renamed", "aspect_ratio": "1:1"}),
        ("delete", f"/storyboards/{s}", None),
        ("patch", f"/projects/{p}", {"name": "Renamed"}),
        ("delete", f"/projects/{p}", None),
    ]


@pytest.fixture
def ids(project, storyboard, panel, take):
    return {"project": project.id, "storyboard": storyboard.id, "panel": panel.id, "take": take.id}


def _call(client, method, path, body):
    return (
        getattr(client, method)(path, body) if body is not None else getattr(client, method)(path)
    )


def test_outsider_gets_404_everywhere_and_nothing_changes(api, olga, ids):
    for method, path, body in endpoints(ids):
        response = _call(api(olga), method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
    assert Panel.objects.get(pk=ids["panel"]).prompt == "a diner at night, rain"
    assert Comment.objects.count() == 0 and Take.objects.count() == 1


def test_outsider_404_matches_a_project_that_does_not_exist(api, olga, ids):
    real = api(olga).get(f"/projects/{ids['project']}")
    missing = api(olga).get("/projects/987654")
    assert real.status_code == missing.status_code == 404 and real.json() == missing.json()


def test_anonymous_gets_401_everywhere(api, ids):
    for method, path, body in endpoints(ids):
        assert _call(api(None), method, path, body).status_code == 401, (method, path)


def test_viewer_reads_and_comments_but_cannot_edit_or_generate(api, vic, ids):
    for method, path, body in endpoints(ids):
        response = _call(api(vic), method, path, body)
        if method == "get" or path.endswith("/comments"):
            assert response.status_code in (200, 201), (method, path, response.status_code)
        else:
            assert response.status_code == 403, (method, path, response.status_code)
    assert Take.objects.count() == 1 and Panel.objects.count() == 1
    assert Storyboard.objects.get().title == "Opening"
    assert Project.objects.get().name == "Night Shift"


def test_only_owners_manage_members(api, arti, ids, project):
    response = api(arti).post(
        f"/projects/{project.id}/members", {"username": "olga", "role": "viewer"}
    )
    assert response.status_code == 403
    assert not project.memberships.filter(user__username="olga").exists()


def test_artist_cannot_cancel_someone_elses_take_but_director_can(api, arti, dana, panel, project):
    take = api(dana).post(f"/panels/{panel.id}/takes", {}).json()
    assert api(arti).post(f"/takes/{take['id']}/cancel").status_code == 403
    assert Take.objects.get(pk=take["id"]).status == "queued"
    own = api(arti).post(f"/panels/{panel.id}/takes", {}).json()
    assert api(arti).post(f"/takes/{own['id']}/cancel").json()["status"] == "cancelled"
    assert api(dana).post(f"/takes/{take['id']}/cancel").json()["status"] == "cancelled"


def test_media_only_for_members(client, api, dana, vic, olga, take):
    url = f"/media/{take.image.name}"
    assert client.get(url).status_code == 404
    client.force_login(olga)
    assert client.get(url).status_code == 404
    client.force_login(vic)
    assert client.get(url).status_code == 200
    client.logout()
    from storyboards.services import token_issue

    assert (
        client.get(url, headers={"Authorization": f"Bearer {token_issue(user=dana)}"}).status_code
        == 200
    )
    assert client.get("/media/takes/../../etc/passwd").status_code == 404


@pytest.mark.parametrize(
    "page", ["/projects/{project}/", "/storyboards/{storyboard}/", "/panels/{panel}/card/"]
)
def test_pages_are_404_for_outsiders_and_200_for_members(client, olga, vic, ids, page):
    url = page.format(**ids)
    client.force_login(olga)
    assert client.get(url).status_code == 404
    client.force_login(vic)
    assert client.get(url).status_code == 200


def test_page_actions_are_404_for_outsiders_and_403_for_viewers(client, olga, vic, ids):
    posts = [f"/storyboards/{ids['storyboard']}/panels/", f"/panels/{ids['panel']}/generate/",
             f"/panels/{ids['panel']}/edit/", f"/takes/{ids['take']}/select/",
             f"/projects/{ids['project']}/members/",
             f"/storyboards/{ids['storyboard']}/settings/", f"/storyboards/{ids['storyboard']}/delete/",
             f"/projects/{ids['project']}/rename/", f"/projects/{ids['project']}/delete/"]  # fmt: skip
    for user, code in ((olga, 404), (vic, 403)):
        client.force_login(user)
        for url in posts:
            assert (
                client.post(
                    url, {"prompt": "x", "action": "add", "username": "olga", "role": "owner"}
                ).status_code
                == code
            ), (user, url)
    assert Panel.objects.count() == 1 and Take.objects.count() == 1
    assert Storyboard.objects.get().title == "Opening"
    assert Project.objects.get().name == "Night Shift"


def test_one_table_says_what_each_role_may_do_and_a_typo_fails_loudly():
    """Access is one question, `membership.may(Action)`, asked by pages, API and sockets through
    the `*_get_for_member` selectors; a misspelled right is a TypeError in tests, never a quiet
    "no" or a 500 in production."""
    from storyboards.models import Action, Membership, Role

    expected = {
        Role.OWNER: set(Action),
        Role.DIRECTOR: {
            Action.READ,
            Action.COMMENT,
            Action.EDIT,
            Action.GENERATE,
            Action.SUPERVISE,
        },
        Role.WRITER: {Action.READ, Action.COMMENT, Action.EDIT, Action.GENERATE},
        Role.ARTIST: {Action.READ, Action.COMMENT, Action.EDIT, Action.GENERATE},
        Role.VIEWER: {Action.READ, Action.COMMENT},
    }
    for role, allowed in expected.items():
        member = Membership(role=role)
        assert {a for a in Action if member.may(a)} == allowed, role
    with pytest.raises(TypeError):
        Membership(role=Role.OWNER).may("edit")


def test_a_refusal_names_the_role_and_the_right_in_words(client, project, storyboard, panel, vic):
    client.force_login(vic)  # a viewer
    answer = client.post(f"/panels/{panel.id}/generate/", {"tool": "text2image"})
    assert answer.status_code == 403
    assert "Your role (viewer) cannot generate takes here." in answer.content.decode()


def test_a_member_of_one_project_is_an_outsider_to_every_other(client, api, project, vic, olga):
    """Membership is looked up for this project, not for the person: Vic, a member of exactly
    one project, gets 404 for everything in Olga's (pages, API, media-free reads alike)."""
    from storyboards import services as boards

    theirs = boards.project_create(user=olga, name="Olga's own")
    board = boards.storyboard_create(project=theirs, user=olga, title="Hers")
    their_panel = boards.panel_create(storyboard=board, user=olga, prompt="private")
    client.force_login(vic)
    for url in (f"/projects/{theirs.id}/", f"/storyboards/{board.id}/",
                f"/panels/{their_panel.id}/inspector/", f"/panels/{their_panel.id}/card/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    as_vic = api(vic)
    assert as_vic.get(f"/projects/{theirs.id}").status_code == 404
    assert as_vic.get(f"/storyboards/{board.id}").status_code == 404
    assert as_vic.get(f"/panels/{their_panel.id}/comments").status_code == 404
