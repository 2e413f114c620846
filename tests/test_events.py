"""The event bus: its catalogue, what each service sends, rendering once, numbering, fan-out,
and what happens when a socket falls behind or its process loses Redis."""

import asyncio
import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from generation import services as takes
from storyboards import services as boards
from studio import events, events_doc, fanout

from .conftest import token_for
from .test_live_updates import communicator, live_until, session_cookie

# --- the catalogue -------------------------------------------------------------------------


def test_docs_and_readme_are_generated_from_the_catalogue():
    assert events_doc.DOC.read_text() == events_doc.render_doc(), "run manage.py events_doc"
    assert events_doc.render_readme_list() in events_doc.README.read_text()


def test_every_event_refreshes_declared_regions_with_renderers():
    for event in events.CATALOGUE.values():
        for name in event.regions:
            region = events.REGIONS[name]
            assert name in events._renderers, f"nobody renders {name}"
            assert region.key in (*event.fields, "storyboard"), f"{event.name} lacks {region.key}"


def test_publish_refuses_what_the_catalogue_does_not_declare():
    with pytest.raises(ValueError, match="not in the event catalogue"):
        events.publish(1, "panel.exploded", {"panel": 1})
    with pytest.raises(ValueError, match="needs comment"):
        events.publish(1, "comment.created", {"panel": 1})
    with pytest.raises(AssertionError, match="durable"):
        events.publish_now(1, "comment.created", {"panel": 1, "comment": 2})


# --- what services send --------------------------------------------------------------------


def sent_by(django_capture_on_commit_callbacks, action) -> list[tuple[str, dict]]:
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        action()
    return [(m["event"], m["data"]) for m in sent]


@pytest.mark.django_db
def test_services_send_their_events(
    django_capture_on_commit_callbacks, project, storyboard, panel, dana, arti
):
    def send(action):
        return sent_by(django_capture_on_commit_callbacks, action)

    [(name, data)] = send(lambda: boards.comment_add(panel=panel, author=arti, body="Wider."))
    assert (
        name == "comment.created"
        and data["panel"] == panel.id
        and data["storyboard"] == storyboard.id
    )
    [(name, data)] = send(lambda: boards.panel_create(storyboard=storyboard, user=dana, prompt="b"))
    second = data["panel"]
    assert name == "panel.created"
    assert send(lambda: boards.panel_update(panel=panel, notes="n"))[0][0] == "panel.updated"
    [(name, data)] = send(lambda: boards.panel_move(panel=panel, position=1))
    assert name == "panel.moved" and data == {**data, "panel": panel.id, "position": 1}
    sent = send(lambda: takes.take_request(panel=panel, author=dana))
    assert [n for n, _ in sent] == ["take.queued", "queue.updated"]
    take_id = sent[0][1]["take"]
    assert sent[1][1]["positions"] == {str(take_id): 1}
    take = takes.Take.objects.get(pk=take_id)
    membership = project.memberships.get(user=dana)
    sent = send(lambda: takes.take_cancel(take=take, by=dana, membership=membership))
    assert [n for n, _ in sent] == ["take.cancelled", "queue.updated"] or [n for n, _ in sent] == [
        "take.cancelled"
    ]
    arti_membership = project.memberships.get(user=arti)
    [(name, data)] = send(lambda: boards.member_set_role(membership=arti_membership, role="viewer"))
    assert name == "member.changed" and data["user"] == arti.id
    assert second != panel.id


@pytest.mark.django_db
def test_a_refused_change_sends_nothing(django_capture_on_commit_callbacks, panel, arti):
    def fail():
        with pytest.raises(ValidationError):
            boards.comment_add(panel=panel, author=arti, body="   ")

    assert sent_by(django_capture_on_commit_callbacks, fail) == []


# --- rendering once ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_region_is_rendered_once_per_batch_with_a_variant_per_role(storyboard, panel, dana):
    take = takes.take_request(panel=panel, author=dana)
    events.flush()  # its own take.queued has been rendered: only the calls below are counted
    calls = []
    frame = events._renderers["panel.frame"]
    events._renderers["panel.frame"] = lambda payloads: calls.append(payloads) or frame(payloads)
    try:
        batch = [
            events._message(storyboard.id, name, {"panel": panel.id, "take": take.id, "status": "queued", "worker": "w"})
            for name in ("take.queued", "take.started", "take.cancel_requested")
        ]  # fmt: skip
        rendered = events.render_batch(batch)
    finally:
        events._renderers["panel.frame"] = frame
    assert len(calls) == 1 and len(calls[0]) == 1  # one render, of one panel, for three events
    assert rendered[0]["html"] == {events.ALL: ""}
    # take.started is the last to touch the board's run region; the frame goes with the last event
    assert 'id="board-bulk"' in rendered[1]["html"][events.EDIT]
    assert "-frame" not in rendered[1]["html"][events.EDIT]
    html = rendered[2]["html"]  # the last event that touches the frame carries it
    assert set(html) == {events.EDIT, events.VIEW}
    assert f"/takes/{take.id}/cancel/" in html[events.EDIT]
    assert f"/takes/{take.id}/cancel/" not in html[events.VIEW]


def test_superseded_progress_is_dropped_before_it_is_sent():
    def progress(take, value):
        return events._message(7, "take.progress", {"panel": 1, "take": take, "status": "running",
                                                     "progress": value})  # fmt: skip

    batch = [progress(1, 0.1), progress(2, 0.1), progress(1, 0.5), progress(1, 0.9)]
    kept = events._coalesce(batch)
    assert [(m["data"]["take"], m["data"]["progress"]) for m in kept] == [(2, 0.1), (1, 0.9)]


@pytest.mark.django_db(transaction=True)
def test_every_page_gets_the_same_bytes_from_one_render(storyboard, panel, dana, arti, vic):
    calls = []
    comment_item = events._renderers["comment.item"]
    events._renderers["comment.item"] = lambda p: calls.append(p) or comment_item(p)

    cookies = [session_cookie(user) for user in (dana, arti, vic, dana, arti)]

    async def run():
        pages = [
            communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookie)
            for cookie in cookies
        ]
        for page in pages:
            assert (await page.connect())[0]
            await page.receive_from(timeout=5)  # hello
        await database_sync_to_async(boards.comment_add)(panel=panel, author=vic, body="Hold it.")
        received = [await live_until(page, "Hold it.") for page in pages]
        for page in pages:
            await page.disconnect()
        return received

    try:
        received = async_to_sync(run)()
    finally:
        events._renderers["comment.item"] = comment_item
    assert len(calls) == 1
    assert len(set(received)) == 1 and "Hold it." in received[0]


# --- numbering -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_durable_events_are_numbered_one_by_one_and_transient_ones_carry_the_number(
    storyboard, panel, dana
):
    token = token_for(dana)

    async def run():
        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        assert (await comm.connect())[0]
        seq = json.loads(await comm.receive_from())["seq"]
        await database_sync_to_async(boards.comment_add)(panel=panel, author=dana, body="one")
        await database_sync_to_async(takes.take_request)(panel=panel, author=dana)
        got = [json.loads(await comm.receive_from(timeout=10)) for _ in range(3)]
        await comm.disconnect()
        return seq, got

    seq, got = async_to_sync(run)()
    assert [(m["type"], m["seq"]) for m in got] == [
        ("comment.created", seq + 1), ("take.queued", seq + 2), ("queue.updated", seq + 2)
    ]  # fmt: skip
    assert got[2]["transient"] is True and "transient" not in got[1]


@pytest.mark.django_db(transaction=True)
def test_the_page_knows_the_number_it_was_rendered_at(client, storyboard, panel, dana):
    events.flush()
    client.force_login(dana)
    page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert f'data-seq="{events.current_sequence(storyboard.id)}"' in page
    assert events.current_sequence(storyboard.id) >= 1  # the panel fixture's panel.created


# --- fan-out -------------------------------------------------------------------------------


def test_a_socket_that_falls_behind_is_dropped_and_told_to_resync():
    async def run():
        listener = fanout.Listener()
        batch = fanout.Batch([])
        for _ in range(fanout.MAX_PENDING):
            listener.push(batch)
        assert not listener.dropped and len(listener.pending) == fanout.MAX_PENDING
        listener.push(batch)
        assert listener.dropped and listener.pending == []

    asyncio.run(run())


def test_pending_batches_merge_to_the_newest_progress_of_each_take():
    def item(seq, event, take, transient=False):
        body = json.dumps(
            {"event": event, "data": {"take": take}, "html": {"all": f"{event}{seq}"}}
        )
        return fanout.Item(f"{'~' if transient else ''}{seq} {body}".encode())

    first = fanout.Batch([item(4, "take.progress", 1, True), item(5, "take.started", 2)])
    second = fanout.Batch([item(5, "take.progress", 1, True), item(5, "take.progress", 2, True)])
    merged = fanout.merge([first, second])
    assert [(i.event, i.data["take"], i.seq) for i in merged.items] == [
        ("take.started", 2, 5), ("take.progress", 1, 5), ("take.progress", 2, 5)
    ]  # fmt: skip
    assert (
        merged.live_frame("edit")
        == "<!--5-->take.started5<!--~5-->take.progress5<!--~5-->take.progress5"
    )


def test_what_a_socket_heard_before_its_hello_is_not_sent_again():
    def item(seq, event="comment.created", transient=False):
        body = json.dumps({"event": event, "data": {"take": 1}, "html": {"all": ""}})
        return fanout.Item(f"{'~' if transient else ''}{seq} {body}".encode())

    batch = fanout.Batch(
        [item(6), item(6, "take.progress", True), item(7), item(7, "queue.updated", True)]
    )
    assert [(i.seq, i.transient) for i in batch.after(6).items] == [
        (6, True),
        (7, False),
        (7, True),
    ]
    assert batch.after(5) is batch


@pytest.mark.django_db(transaction=True)
def test_closing_many_sockets_at_once_leaves_nothing_behind(storyboard, dana):
    token = token_for(dana)
    events.flush()
    channel = events.storyboard_channel(storyboard.id)
    r = redis.Redis.from_url(settings.REDIS_URL)

    async def run():
        socks = [
            communicator(f"/ws/storyboards/{storyboard.id}/events", token=token) for _ in range(60)
        ]
        for comm in socks:
            assert (await comm.connect())[0]
        assert len(fanout.hub().listeners[storyboard.id]) == 60
        assert r.pubsub_numsub(channel) == [(channel.encode(), 1)]  # one subscription per process
        await asyncio.gather(*(comm.disconnect() for comm in socks))
        return storyboard.id in fanout.hub().listeners

    assert async_to_sync(run)() is False
    assert r.pubsub_numsub(channel) == [(channel.encode(), 0)]


@pytest.mark.django_db(transaction=True)
def test_losing_redis_closes_sockets_so_pages_reconnect(storyboard, panel, dana):
    r = redis.Redis.from_url(settings.REDIS_URL)
    tokens = [token_for(dana) for _ in range(60)]

    def kill_hub_connections():
        mine = [c for c in r.client_list() if c.get("name") == fanout.hub_client_name()]
        for c in mine:
            r.client_kill_filter(_id=c["id"])
        return len(mine)

    async def run():
        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=tokens.pop())
        assert (await comm.connect())[0]
        await comm.receive_from()  # hello
        assert await asyncio.to_thread(kill_hub_connections) >= 1
        closed = await comm.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4012}
        for _ in range(50):  # the hub reconnects within a second or so
            again = communicator(f"/ws/storyboards/{storyboard.id}/events", token=tokens.pop())
            if (await again.connect())[0]:
                break
            await asyncio.sleep(0.2)
        hello = json.loads(await again.receive_from())
        await database_sync_to_async(boards.comment_add)(panel=panel, author=dana, body="back")
        comment = json.loads(await again.receive_from(timeout=10))
        await again.disconnect()
        return hello, comment

    hello, comment = async_to_sync(run)()
    assert hello["type"] == "hello" and comment["type"] == "comment.created"
    assert comment["seq"] == hello["seq"] + 1


@pytest.mark.django_db(transaction=True)
def test_a_comment_posted_on_one_web_process_reaches_sockets_on_another(
    processes, storyboard, panel, dana
):
    import httpx
    from websockets.sync.client import connect

    token = token_for(dana)
    first, second = processes.studio(), processes.studio()
    with connect(f"ws://{second}/ws/storyboards/{storyboard.id}/events",
                 additional_headers={"Authorization": f"Bearer {token}"}) as socket:  # fmt: skip
        hello = json.loads(socket.recv(timeout=10))
        started = time.monotonic()
        answer = httpx.post(f"http://{first}/api/panels/{panel.id}/comments", json={"body": "Across."},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert answer.status_code == 201
        message = json.loads(socket.recv(timeout=10))
    assert message["type"] == "comment.created" and message["comment"] == answer.json()["id"]
    assert message["seq"] == hello["seq"] + 1 and time.monotonic() - started < 10


@pytest.mark.django_db(transaction=True)
def test_short_lived_events_go_out_at_once_outside_any_transaction(storyboard, panel, dana):
    token = token_for(dana)

    async def run():
        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        assert (await comm.connect())[0]
        hello = json.loads(await comm.receive_from())
        events.publish_now(storyboard.id, "take.progress",
                           {"panel": panel.id, "take": 1, "status": "running", "progress": 0.25})  # fmt: skip
        message = json.loads(await comm.receive_from(timeout=10))
        await comm.disconnect()
        return hello, message

    hello, message = async_to_sync(run)()
    assert message["type"] == "take.progress" and message["progress"] == 0.25
    assert message["seq"] == hello["seq"] and message["transient"] is True
