"""Storyboard sockets over the real channels-redis layer: who may listen, and what they hear."""

import json
import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from generation import services as takes
from storyboards import services as boards
from studio import events
from studio.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    """A real signed-in browser session, as the page's socket would carry it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = (
        str(user.pk),
        "django.contrib.auth.backends.ModelBackend",
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


def communicator(path, cookie=None, token=None, origin=None, host="localhost:8000"):
    events.flush()  # what the fixtures published has left: the socket starts after it
    headers = [(b"host", host.encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def events_until(comm, wanted: str, limit=20):
    seen = []
    for _ in range(limit):
        message = json.loads(await comm.receive_from(timeout=10))
        seen.append(message)
        if message["type"] == wanted:
            return message, seen
    raise AssertionError(f"no {wanted} in {seen}")


PRESENCE = re.compile(r'<!--~\d+-->\s*<ul id="board-presence".*?</ul>\s*', re.S)


def without_presence(text: str) -> str:
    """A page socket's frames without who-is-here updates (every page's arrival sends one)."""
    return PRESENCE.sub("", text)


async def live_until(comm, needle: str, limit=20) -> str:
    """The page socket's messages, joined, until one holds `needle` (presence left out)."""
    text = ""
    for _ in range(limit):
        text += without_presence(await comm.receive_from(timeout=10))
        if needle in text:
            return text
    raise AssertionError(f"no {needle!r} on the page socket")


def test_member_with_token_hears_comments_panels_and_takes(storyboard, panel, vic, dana):
    token = boards.token_issue(user=vic)

    async def run():
        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        connected, _ = await comm.connect()
        assert connected
        hello = json.loads(await comm.receive_from())
        assert hello == {"type": "hello", "storyboard": storyboard.id, "seq": hello["seq"]}
        from channels.db import database_sync_to_async

        await database_sync_to_async(boards.comment_add)(panel=panel, author=dana, body="Tighter.")
        comment, _ = await events_until(comm, "comment.created")
        assert comment["panel"] == panel.id and "comment" in comment and "ts" in comment
        assert comment["seq"] == hello["seq"] + 1  # durable events take the next number
        new = await database_sync_to_async(boards.panel_create)(
            storyboard=storyboard, user=dana, prompt="b"
        )
        created, _ = await events_until(comm, "panel.created")
        assert created["panel"] == new.id
        take = await database_sync_to_async(takes.take_request)(panel=panel, author=dana)
        queued, _ = await events_until(comm, "take.queued")
        assert queued["take"] == take.id and queued["panel"] == panel.id
        await comm.disconnect()

    async_to_sync(run)()


def test_outsider_and_anonymous_sockets_are_refused(storyboard, olga):
    token = boards.token_issue(user=olga)
    cookie = session_cookie(olga)

    async def run():
        for comm in (
            communicator(f"/ws/storyboards/{storyboard.id}/events", token=token),
            communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookie),
            communicator(f"/ws/storyboards/{storyboard.id}/events"),
            communicator("/ws/storyboards/999999/events", token=token),
        ):
            connected, _ = await comm.connect()
            assert not connected
            await comm.disconnect()

    async_to_sync(run)()


def test_htmx_socket_gets_out_of_band_fragments(storyboard, panel, vic, dana):
    cookie = session_cookie(vic)

    async def run():
        from channels.db import database_sync_to_async

        comm = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookie)
        connected, _ = await comm.connect()
        assert connected
        hello = json.loads(await comm.receive_from(timeout=5))
        seq = hello["seq"]
        comment = await database_sync_to_async(boards.comment_add)(
            panel=panel, author=dana, body="Push in slower."
        )
        html = await live_until(comm, "Push in slower.")
        assert html.startswith(f"<!--{seq + 1}-->")
        assert f"beforeend:#panel-{panel.id}-comments:not(:has(#comment-{comment.id}))" in html
        take = await database_sync_to_async(takes.take_request)(panel=panel, author=dana)
        joined = await live_until(comm, f'id="take-{take.id}-queue" class="queue" hx-swap-oob')
        assert (
            f'id="panel-{panel.id}-frame" class="frame-wrap" hx-ext="morph" hx-swap-oob="morph"'
            in joined
        )
        assert f"<!--{seq + 2}-->" in joined and f"<!--~{seq + 2}-->" in joined  # queue: transient
        await database_sync_to_async(takes.take_report_progress)(
            takes=[take], progress=0.5, previews=[b"\xff\xd8jpeg"]
        )
        both = await live_until(comm, "data:image/jpeg;base64,")
        assert f'id="take-{take.id}-bar"' in both and "width:50%" in both
        assert f'id="panel-{panel.id}-preview"' in both
        await comm.disconnect()

    async_to_sync(run)()


def test_viewer_fragments_have_no_edit_controls(storyboard, panel, vic, dana):
    """The same event, rendered once per role: the editor's frame offers Cancel on a waiting
    take, the viewer's does not."""
    from generation import services as takes

    cookies = session_cookie(vic), session_cookie(dana)

    async def run():
        from channels.db import database_sync_to_async

        viewer = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookies[0])
        editor = communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookies[1])
        await viewer.connect()
        await editor.connect()
        take = await database_sync_to_async(takes.take_request)(panel=panel, author=dana)
        marker = f'id="panel-{panel.id}-frame"'
        seen_by_viewer = await live_until(viewer, marker)
        seen_by_editor = await live_until(editor, marker)
        assert f"/takes/{take.id}/cancel/" in seen_by_editor
        assert f"/takes/{take.id}/cancel/" not in seen_by_viewer and "hx-post" not in seen_by_viewer
        await viewer.disconnect()
        await editor.disconnect()

    async_to_sync(run)()


def test_a_removed_member_stops_hearing_the_project_at_once(storyboard, panel, vic, dana, project):
    token = boards.token_issue(user=vic)

    async def run():
        from channels.db import database_sync_to_async

        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        assert (await comm.connect())[0]
        await comm.receive_from()  # hello
        membership = await database_sync_to_async(project.memberships.get)(user=vic)
        await database_sync_to_async(boards.member_remove)(membership=membership)
        closed = await comm.receive_output(timeout=5)
        assert closed["type"] == "websocket.close"
        await database_sync_to_async(boards.comment_add)(panel=panel, author=dana, body="secret")
        assert await comm.receive_nothing(timeout=0.5)

    async_to_sync(run)()
