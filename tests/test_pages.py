"""Server-rendered pages: sign-up, projects, members, the storyboard and its htmx actions."""

import pytest

from generation.models import Take
from storyboards.models import Comment, Membership, Panel, Project

pytestmark = pytest.mark.django_db


def test_signup_creates_an_account_and_can_be_turned_off(client, settings):
    response = client.post(
        "/signup/",
        {
            "username": "newbie",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    settings.SLATE_SIGNUP_ENABLED = False
    client.logout()
    assert client.get("/signup/").status_code == 404


def test_pages_need_sign_in(client, project):
    response = client.get(f"/projects/{project.id}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_project_list_and_create(client, dana, project):
    client.force_login(dana)
    assert "Night Shift" in client.get("/").content.decode()
    response = client.post("/", {"name": "Second Unit"})
    created = Project.objects.get(name="Second Unit")
    assert response.status_code == 302 and Membership.objects.get(project=created).role == "owner"


def test_owner_manages_members_from_the_project_page(client, dana, olga, project):
    client.force_login(dana)
    page = client.get(f"/projects/{project.id}/").content.decode()
    assert "Add member" in page and "GPU time" in page
    client.post(
        f"/projects/{project.id}/members/", {"action": "add", "username": "olga", "role": "writer"}
    )
    member = Membership.objects.get(project=project, user=olga)
    client.post(
        f"/projects/{project.id}/members/",
        {"action": "role", "member": member.id, "role": "director"},
    )
    assert Membership.objects.get(pk=member.pk).role == "director"
    client.post(f"/projects/{project.id}/members/", {"action": "remove", "member": member.id})
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_non_owner_sees_no_member_controls(client, arti, project):
    client.force_login(arti)
    assert "Add member" not in client.get(f"/projects/{project.id}/").content.decode()


def test_storyboard_page_shows_panels_with_pinned_query_count(
    client, dana, storyboard, panel, django_assert_num_queries
):
    from storyboards import services as boards

    for i in range(5):
        boards.panel_create(
            storyboard=storyboard, user=dana, prompt=f"shot {i}", action=f"beat {i}"
        )
    client.force_login(dana)
    # session, user, storyboard, membership, queue positions, panels (with selected takes, the
    # newest take's id and the comment count), their running and queued takes, the board's
    # "Generate all" run, its panel count and running time, the project for the breadcrumbs
    with django_assert_num_queries(11):  # with the members @mentions offer
        page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert page.count('class="panel"') == 6 and "beat 4" in page
    assert 'ws-connect="/ws/storyboards/' in page and "htmx" in page


def test_a_big_board_takes_the_same_queries_and_every_card_is_whole(
    client, dana, olga, storyboard, panel, django_assert_num_queries
):
    from storyboards import services as boards

    extra = [
        boards.panel_create(storyboard=storyboard, user=dana, action=f"beat {i}") for i in range(40)
    ]
    client.force_login(dana)
    with django_assert_num_queries(11):  # the same queries as for six panels
        page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert page.count('class="panel"') == 41 and "beat 39" in page
    last = extra[-1]
    card = client.get(f"/panels/{last.id}/card/").content.decode()
    assert card.startswith(f'<article id="panel-{last.id}" class="panel"') and "beat 39" in card
    client.force_login(olga)
    assert client.get(f"/panels/{last.id}/card/").status_code == 404


def test_htmx_actions_add_edit_generate_comment(client, dana, storyboard, panel):
    client.force_login(dana)
    added = client.post(
        f"/storyboards/{storyboard.id}/panels/", {"action": "the getaway car", "shot_type": "ws"}
    )
    assert added.status_code == 200 and "the getaway car" in added.content.decode()
    new = Panel.objects.get(action="the getaway car")
    assert new.prompt == "the getaway car"  # a first draft of the prompt, from the action
    edited = client.post(
        f"/panels/{new.id}/edit/", {"prompt": "the getaway car, rain", "duration_s": "3.5"}
    )
    # The answer is the live event's own fragment: the meta, swapped out of band by id.
    assert edited.status_code == 200 and edited["HX-Trigger"] == "panel-saved"
    assert (
        f'id="panel-{new.id}-meta" class="meta" hx-ext="morph" hx-swap-oob="morph"'
        in edited.content.decode()
    )
    new.refresh_from_db()
    assert new.prompt == "the getaway car, rain" and new.duration_ms == 3500
    generated = client.post(f"/panels/{new.id}/generate/", {"tool": "text2image", "seed": "5"})
    assert generated.status_code == 200 and Take.objects.get(panel=new).seed == 5
    refused = client.post(f"/panels/{new.id}/generate/", {"tool": "text2image", "width": "65"})
    assert refused.status_code == 422 and "multiple of 8" in refused.content.decode()
    assert refused["HX-Retarget"] == f"#panel-{new.id}-notice"
    commented = client.post(f"/panels/{new.id}/comments/", {"body": "Faster cut."})
    comment = Comment.objects.get()
    assert "Faster cut." in commented.content.decode()
    # Appended unless the page has it already (the socket brings it too).
    guarded = f"beforeend:#panel-{new.id}-comments:not(:has(#comment-{comment.id}))"
    assert guarded in commented.content.decode()
    moved = client.post(f"/panels/{new.id}/move/", {"position": "0"}).content.decode()
    # The card goes (wherever it is) and comes back before the panel now after it.
    assert f'<article id="panel-{new.id}" hx-swap-oob="delete">' in moved
    assert f'hx-swap-oob="beforebegin:#panel-{panel.id}"' in moved


def test_static_assets_are_served_locally(client):
    assert client.get("/static/vendor/htmx-ext-ws-2.0.4.js").status_code == 200
    assert client.get("/static/vendor/idiomorph-ext-0.8.0.min.js").status_code == 200
    assert client.get("/static/favicon.svg").status_code == 200
    assert client.get("/static/vendor/sortablejs-1.15.7.min.js").status_code == 200
    assert client.get("/static/django_htmx/htmx-2.min.js").status_code == 200


def test_bad_form_input_is_refused_not_a_server_error(client, dana, project, storyboard, panel):
    client.force_login(dana)
    assert client.post(f"/panels/{panel.id}/edit/", {"duration_s": "inf"}).status_code == 422
    assert client.post(f"/panels/{panel.id}/edit/", {"prompt": "nul\x00"}).status_code == 422
    assert client.post(f"/panels/{panel.id}/comments/", {"body": "nul\x00"}).status_code == 422
    assert (
        client.post(f"/storyboards/{storyboard.id}/panels/", {"prompt": "a\x00"}).status_code == 422
    )
    assert (
        client.post(
            f"/projects/{project.id}/members/", {"action": "remove", "member": "abc"}
        ).status_code
        == 404
    )
    assert client.post("/", {"name": "x\x00"}).status_code == 200  # the form again, with the error
    panel.refresh_from_db()
    assert panel.prompt == "a diner at night, rain" and Comment.objects.count() == 0
    assert Panel.objects.count() == 1 and Project.objects.count() == 1


def test_project_page_query_count_does_not_grow_with_storyboards(
    client, dana, project, django_assert_num_queries
):
    from storyboards import services as boards

    for i in range(4):
        boards.storyboard_create(project=project, user=dana, title=f"Board {i}")
    client.force_login(dana)
    # session, user, membership+project, storyboards with panel counts, members with users,
    # GPU seconds per storyboard, GPU seconds per person
    with django_assert_num_queries(7):
        page = client.get(f"/projects/{project.id}/").content.decode()
    assert page.count("0 panels") == 4
