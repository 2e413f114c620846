"""Review comments (issue 11): threads, pins on a take's frame, @mentions and the inbox,
resolve/reopen, presence on a board, and review mode's pages."""

import json

import pytest
from asgiref.sync import async_to_sync

from storyboards import selectors
from storyboards import services as boards
from storyboards.models import Comment, Notification
from studio import events, presence
from tests.test_board import finished_take, html_of, on_board
from tests.test_board import send as send  # noqa: F401 (a fixture)
from tests.test_live_updates import communicator, session_cookie

pytestmark = pytest.mark.django_db


def said(answer) -> str:
    """The error's words, whether the API gave a sentence or a list of field errors."""
    detail = answer.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(d["msg"] for d in detail)


@pytest.fixture
def framed(panel, dana):
    """The panel with a take on the board."""
    take = finished_take(panel, dana, "first")
    on_board(panel, take)
    panel.refresh_from_db()
    return take


# --- threads ---------------------------------------------------------------------------------


def test_replies_join_their_thread_and_a_reply_to_a_reply_joins_the_root(
    api, panel, dana, arti, vic
):
    root = api(dana).post(f"/panels/{panel.id}/comments", {"body": "Too dark?"}).json()
    first = api(arti).post(
        f"/panels/{panel.id}/comments", {"body": "Agreed", "reply_to": root["id"]}
    )
    assert first.status_code == 201 and first.json()["reply_to"] == root["id"]
    second = api(vic).post(
        f"/panels/{panel.id}/comments", {"body": "+1", "reply_to": first.json()["id"]}
    )
    assert second.status_code == 201 and second.json()["reply_to"] == root["id"]  # viewers comment
    listed = api(dana).get(f"/panels/{panel.id}/comments").json()
    assert [(c["body"], c["reply_to"]) for c in listed] == [
        ("Too dark?", None), ("Agreed", root["id"]), ("+1", root["id"])]  # fmt: skip
    [thread] = selectors.comment_threads(panel=panel)
    assert [r.body for r in thread.thread_replies] == ["Agreed", "+1"]


def test_a_reply_to_another_panels_comment_is_refused_and_nothing_written(
    api, storyboard, panel, dana
):
    other = boards.panel_create(storyboard=storyboard, user=dana, prompt="b")
    theirs = boards.comment_add(panel=other, author=dana, body="elsewhere")
    answer = api(dana).post(f"/panels/{panel.id}/comments", {"body": "hi", "reply_to": theirs.id})
    assert answer.status_code == 422 and "not on this panel" in said(answer)
    assert Comment.objects.filter(panel=panel).count() == 0


def test_a_comment_belongs_to_the_take_on_the_board_and_stays_with_it(api, panel, dana, framed):
    note = api(dana).post(f"/panels/{panel.id}/comments", {"body": "Nice light"}).json()
    assert note["take"] == framed.id
    newer = finished_take(panel, dana, "second")
    on_board(panel, newer)
    again = api(dana).get(f"/panels/{panel.id}/comments").json()
    assert again[0]["take"] == framed.id  # a new take does not orphan the old note


# --- pins ------------------------------------------------------------------------------------


def test_pins_at_a_point_or_an_area_are_numbered_per_take(api, panel, dana, arti, framed):
    point = api(dana).post(
        f"/panels/{panel.id}/comments", {"body": "Here", "pin": {"x": 0.25, "y": 0.5}}
    )
    assert point.status_code == 201
    assert point.json()["pin"] == {"x": 0.25, "y": 0.5, "w": None, "h": None, "number": 1}
    area = api(arti).post(f"/panels/{panel.id}/comments",
                          {"body": "This area", "pin": {"x": 0.1, "y": 0.1, "w": 0.5, "h": 0.4}})  # fmt: skip
    assert area.json()["pin"]["number"] == 2 and area.json()["pin"]["w"] == 0.5
    newer = finished_take(panel, dana, "second")
    on_board(panel, newer)
    on_new = api(dana).post(
        f"/panels/{panel.id}/comments", {"body": "x", "pin": {"x": 0.5, "y": 0.5}}
    )
    assert on_new.json()["take"] == newer.id and on_new.json()["pin"]["number"] == 1
    numbers = {c.body: c.pin_number for c in selectors.comment_threads(panel=panel)}
    assert numbers == {"Here": 1, "This area": 2, "x": 1}


@pytest.mark.parametrize(
    "pin, words",
    [
        ({"x": 1.2, "y": 0.5}, None),  # the schema refuses
        ({"x": 0.5}, None),
        ({"x": 0.5, "y": 0.5, "w": 0.2}, "needs both w and h"),
        ({"x": 0.8, "y": 0.5, "w": 0.5, "h": 0.2}, "inside the frame"),
        ({"x": 0.5, "y": 0.5, "w": 0, "h": 0.2}, None),
    ],
)
def test_a_pin_outside_the_frame_is_refused_and_nothing_written(
    api, panel, dana, framed, pin, words
):
    answer = api(dana).post(f"/panels/{panel.id}/comments", {"body": "x", "pin": pin})
    assert answer.status_code == 422, answer.content
    if words:
        assert words in said(answer)
    assert not Comment.objects.exists()


def test_the_service_refuses_bad_pins_the_schema_cannot_see(panel, dana, framed):
    from django.core.exceptions import ValidationError

    for pin in (
        {"x": float("nan"), "y": 0.5},
        {"x": "left", "y": 0.5},
        {"x": 0.1, "y": 0.1, "z": 1},
    ):
        with pytest.raises(ValidationError):
            boards.comment_add(panel=panel, author=dana, body="x", pin=pin)
    root = boards.comment_add(panel=panel, author=dana, body="root")
    with pytest.raises(ValidationError, match="reply joins its thread"):
        boards.comment_add(
            panel=panel, author=dana, body="r", reply_to_id=root.id, pin={"x": 0.1, "y": 0.1}
        )
    assert Comment.objects.count() == 1


def test_a_pin_needs_a_frame(api, panel, dana):
    answer = api(dana).post(
        f"/panels/{panel.id}/comments", {"body": "x", "pin": {"x": 0.1, "y": 0.1}}
    )
    assert answer.status_code == 422 and "no frame to pin on" in said(answer)


def test_a_pin_from_the_review_form_lands_on_the_named_take(client, panel, dana, framed):
    newer = finished_take(panel, dana, "second")
    on_board(panel, newer)
    client.force_login(dana)
    answer = client.post(f"/panels/{panel.id}/comments/", {
        "body": "on the old one", "take": str(framed.id), "pin_x": "0.1", "pin_y": "0.2",
        "pin_w": "0.3", "pin_h": "0.4"}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert answer.status_code == 200
    comment = Comment.objects.get()
    assert (comment.take_id, comment.pin_x, comment.pin_w) == (framed.id, 0.1, 0.3)
    assert 'data-pin="0.1,0.2,0.3,0.4"' in answer.content.decode()
    assert 'data-pin-number="1"' in answer.content.decode()


# --- mentions and the inbox ------------------------------------------------------------------


def test_mentions_reach_members_inboxes_and_nobody_else(api, panel, dana, arti, vic, olga):
    body = "@arti @VIC look; @olga is not here; mail dana@example.com; @dana"
    comment = api(dana).post(f"/panels/{panel.id}/comments", {"body": body}).json()
    assert comment["mentions"] == ["arti", "dana", "vic"]
    got = {n.user.username: n.kind for n in Notification.objects.select_related("user")}
    assert got == {"arti": "mention", "vic": "mention"}  # not the author, not an outsider
    inbox = api(arti).get("/inbox").json()
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert (item["actor"], item["kind"], item["panel"], item["read"]) == (
        "dana",
        "mention",
        panel.id,
        False,
    )
    assert api(olga).get("/inbox").json() == {"unread": 0, "items": []}


def test_replies_tell_the_thread_and_reading_clears_the_count(api, panel, dana, arti, vic):
    root = api(vic).post(f"/panels/{panel.id}/comments", {"body": "Why a wide?"}).json()
    api(arti).post(f"/panels/{panel.id}/comments", {"body": "For scale", "reply_to": root["id"]})
    api(dana).post(f"/panels/{panel.id}/comments", {"body": "Agree @arti", "reply_to": root["id"]})
    kinds = sorted(Notification.objects.values_list("user__username", "kind", "comment__body"))
    assert kinds == [("arti", "mention", "Agree @arti"), ("vic", "reply", "Agree @arti"),
                     ("vic", "reply", "For scale")]  # fmt: skip
    assert api(vic).get("/inbox").json()["unread"] == 2
    first = api(vic).get("/inbox").json()["items"][-1]["id"]
    assert api(vic).post("/inbox/read", {"ids": [first]}).json() == {"marked": 1, "unread": 1}
    assert api(vic).post("/inbox/read", {}).json() == {"marked": 1, "unread": 0}


def test_someone_who_left_the_project_no_longer_sees_its_notes(api, project, panel, dana, arti):
    api(dana).post(f"/panels/{panel.id}/comments", {"body": "@arti see"})
    assert api(arti).get("/inbox").json()["unread"] == 1
    boards.member_remove(membership=project.memberships.get(user=arti))
    assert api(arti).get("/inbox").json() == {"unread": 0, "items": []}


def test_the_inbox_page_lists_notes_marks_them_read_and_the_badge_counts(client, panel, dana, arti):
    boards.comment_add(panel=panel, author=dana, body="@arti <b>frame</b> it")
    client.force_login(arti)
    assert "1 unread" in client.get("/inbox/badge/").content.decode()
    page = client.get("/inbox/").content.decode()
    assert "mentioned you" in page and "&lt;b&gt;frame&lt;/b&gt;" in page and "<b>frame" not in page
    assert f"/storyboards/{panel.storyboard_id}/review/#panel-{panel.id}/comment-" in page
    assert "unread" not in client.get("/inbox/badge/").content.decode()


def test_mentions_are_marked_in_the_thread_and_the_page_offers_members(
    client, storyboard, panel, dana
):
    boards.comment_add(panel=panel, author=dana, body="@arti and @nobody")
    client.force_login(dana)
    side = client.get(f"/panels/{panel.id}/review/").content.decode()
    assert (
        '<span class="mention">@arti</span>' in side and '<span class="mention">@nobody' not in side
    )
    page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert "data-members=" in page and "&quot;username&quot;: &quot;arti&quot;" in page


# --- resolve and reopen ----------------------------------------------------------------------


def test_the_author_or_an_editor_resolves_a_thread_and_a_viewer_may_not(
    api, panel, dana, arti, vic
):
    mine = api(arti).post(f"/panels/{panel.id}/comments", {"body": "fix the horizon"}).json()
    reply = (
        api(vic)
        .post(f"/panels/{panel.id}/comments", {"body": "yes", "reply_to": mine["id"]})
        .json()
    )
    refused = api(vic).post(f"/comments/{mine['id']}/resolve")
    assert refused.status_code == 403 and "viewer" in said(refused)
    done = api(arti).post(f"/comments/{reply['id']}/resolve")  # a reply resolves its thread
    assert done.status_code == 200
    assert (done.json()["id"], done.json()["resolved"], done.json()["resolved_by"]) == (
        mine["id"],
        True,
        "arti",
    )
    assert api(dana).post(f"/comments/{mine['id']}/reopen").json()["resolved"] is False
    own = api(vic).post(f"/panels/{panel.id}/comments", {"body": "mine"}).json()
    assert api(vic).post(f"/comments/{own['id']}/resolve").json()["resolved"] is True


def test_outsiders_get_404_on_comments_review_pages_and_resolve(
    api, client, storyboard, panel, dana, olga
):
    comment = boards.comment_add(panel=panel, author=dana, body="x")
    assert api(olga).post(f"/comments/{comment.id}/resolve").status_code == 404
    assert api(olga).post(f"/panels/{panel.id}/comments", {"body": "hi"}).status_code == 404
    client.force_login(olga)
    assert client.get(f"/storyboards/{storyboard.id}/review/").status_code == 404
    assert client.get(f"/panels/{panel.id}/review/").status_code == 404
    assert client.post(f"/comments/{comment.id}/resolve/").status_code == 404
    assert Comment.objects.get().resolved_at is None


def test_resolving_tells_every_board_and_the_thread_is_redrawn(
    send,  # noqa: F811 (the fixture)
    panel,
    dana,
    arti,
):
    root = boards.comment_add(panel=panel, author=arti, body="Wider?")
    boards.comment_add(panel=panel, author=dana, body="ok", reply_to_id=root.id)
    membership = panel.storyboard.project.memberships.get(user=dana)
    [message] = send(lambda: boards.comment_set_resolved(
        comment=root, membership=membership, resolved=True, by=dana))  # fmt: skip
    assert message["event"] == "comment.updated" and message["data"]["comment"] == root.id
    html = html_of(message)
    assert f'id="comment-{root.id}"' in html and "resolved" in html and "Resolved by dana" in html
    assert "Reopen" in html and html.count('class="reply"') == 1
    again = send(lambda: boards.comment_set_resolved(
        comment=root, membership=membership, resolved=True, by=dana))  # fmt: skip
    assert again == []  # already resolved: nothing to tell


def test_a_reply_arrives_inside_its_thread_on_every_page(
    send,  # noqa: F811 (the fixture)
    panel,
    dana,
    arti,
):
    root = boards.comment_add(panel=panel, author=arti, body="Wider?")
    [message] = send(
        lambda: boards.comment_add(panel=panel, author=dana, body="ok", reply_to_id=root.id)
    )
    html = html_of(message)
    assert f"beforeend:#comment-{root.id}-replies" in html
    [new] = send(lambda: boards.comment_add(panel=panel, author=dana, body="next"))
    assert f"beforeend:#panel-{panel.id}-comments" in html_of(new)


# --- review mode pages -----------------------------------------------------------------------


def test_review_mode_opens_on_the_board_page_and_its_side_shows_threads(
    client, storyboard, panel, dana, vic, framed
):
    boards.comment_add(panel=panel, author=dana, body="pinned", pin={"x": 0.5, "y": 0.5})
    client.force_login(vic)
    page = client.get(f"/storyboards/{storyboard.id}/review/").content.decode()
    assert "data-review-open" in page and 'id="review"' in page
    side = client.get(f"/panels/{panel.id}/review/").content.decode()
    assert f'id="panel-{panel.id}-comments"' in side and 'data-pin="0.5,0.5"' in side
    assert f'data-take="{framed.id}"' in side and "data-comment-form" in side
    assert (
        f'data-duration="{panel.duration_ms}"'
        in client.get(f"/storyboards/{storyboard.id}/").content.decode()
    )


# --- presence --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_presence_lists_who_is_on_the_board_and_which_panel_and_a_closed_tab_leaves(
    storyboard, panel, dana, arti, olga
):
    async def presence_html(comm, needle):
        for _ in range(30):
            text = await comm.receive_from(timeout=10)
            if 'id="board-presence"' in text and needle(text):
                return text
        raise AssertionError("no presence update")

    cookies = {user.username: session_cookie(user) for user in (dana, arti, olga)}

    async def run():
        anna = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookies["dana"])
        assert (await anna.connect())[0]
        await presence_html(anna, lambda t: f'data-user="{dana.pk}"' in t)
        bob = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookies["arti"])
        assert (await bob.connect())[0]
        both = await presence_html(anna, lambda t: f'data-user="{arti.pk}"' in t)
        assert f'data-user="{dana.pk}"' in both
        await bob.send_to(text_data=json.dumps({"type": "focus", "panel": panel.id}))
        focused = await presence_html(anna, lambda t: f'data-panel="{panel.id}"' in t)
        assert f'data-user="{arti.pk}" data-panel="{panel.id}"' in focused
        await bob.send_to(
            text_data=json.dumps({"type": "focus", "panel": 999999})
        )  # not this board's
        await presence_html(anna, lambda t: f'data-user="{arti.pk}"' in t and "data-panel" not in t)
        await bob.disconnect()
        gone = await presence_html(anna, lambda t: f'data-user="{arti.pk}"' not in t)
        assert f'data-user="{dana.pk}"' in gone
        outsider = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookies["olga"])
        assert not (await outsider.connect())[0]
        await anna.disconnect()

    async_to_sync(run)()
    assert presence.people(storyboard.id) == []


@pytest.mark.django_db(transaction=True)
def test_presence_entries_of_a_dead_process_expire(storyboard, dana, monkeypatch):
    presence.enter(storyboard.id, "socket-a", dana, None)
    assert [p["username"] for p in presence.people(storyboard.id)] == ["dana"]
    import time

    later = time.time() + presence.STALE_S + 1
    monkeypatch.setattr(presence.time, "time", lambda: later)
    assert presence.people(storyboard.id) == []


def test_presence_is_a_transient_event_with_its_region(storyboard, dana):
    with events.captured() as sent:
        events.publish_now(storyboard.id, "presence.changed", {"storyboard": storyboard.id, "people": [
            {"user": dana.pk, "username": "dana", "name": "Dana <x>", "initials": "D", "colour": 1, "panel": None}]})  # fmt: skip
    [message] = events.render_batch(sent)
    html = html_of(message, events.ALL)
    assert 'id="board-presence"' in html and "Dana &lt;x&gt;" in html
    assert events.CATALOGUE["presence.changed"].transient


def test_member_names_are_what_mentions_offer(project):
    assert [m["username"] for m in selectors.member_names(project=project)] == [
        "arti",
        "dana",
        "vic",
    ]
