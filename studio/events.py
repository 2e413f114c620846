"""The event bus: one way to tell everybody watching a storyboard.

Services call `publish(storyboard_id, event, data)` inside their transaction; the event leaves
only if it commits. Every event type is declared once in CATALOGUE: its payload fields, the page
regions it refreshes, and whether it is *durable* (a change of state: it takes the storyboard's
next sequence number) or *transient* (progress, previews, queue positions: it carries the current
sequence number without taking one, and a newer one of the same take replaces it).

Leaving the process: one sender thread per process (`Outbox`) takes what was published, renders
each refreshed region once, from the same templates as the page (a region renderer is registered
by the app that owns the template, see storyboards/presenters.py), once per role variant when a
role sees it differently, and hands the event to Redis with one Lua call that numbers and PUBLISHes
it atomically, so numbers arrive in the order they were given. Every web process fans the same
bytes out to its own sockets (studio/fanout.py); a page costs no query and no render per event.

docs/events.md is generated from CATALOGUE (`manage.py events_doc`); a test keeps it in step.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import request_finished
from django.db import connections, transaction

log = logging.getLogger(__name__)

# --- the catalogue ---------------------------------------------------------------------------

EDIT, VIEW, ALL = "edit", "view", "all"  # what a role sees: with edit controls, without, the same


@dataclass(frozen=True)
class Region:
    """A piece of the page with a stable element id, re-rendered when an event touches it."""

    name: str
    key: str  # the payload field that says which one (a panel id, a take id...)
    by_role: bool  # editors and viewers see it differently: rendered once for each
    doc: str


@dataclass(frozen=True)
class EventType:
    name: str
    fields: tuple[str, ...]  # payload fields beyond `storyboard` and `ts`, always present
    regions: tuple[str, ...]
    doc: str
    transient: bool = False


REGIONS = {
    r.name: r
    for r in (
        Region("panel.card", "panel", True,
               "The whole panel card, placed where the panel now stands (`#panel-{id}`): removed "
               "wherever it was, inserted before the next panel or at the end."),
        Region("panel.meta", "panel", False,
               "Shot type, camera move, duration, prompt, action, dialogue and notes "
               "(`#panel-{id}-meta`)."),
        Region("panel.frame", "panel", True,
               "The frame: selected take, running take with progress, queue position, failure, "
               "take strip (`#panel-{id}-frame`)."),
        Region("panel.takes", "panel", True,
               "Every take of the panel, newest first, in the panel inspector "
               "(`#panel-{id}-takes`)."),
        Region("panel.gone", "panel", False, "Removes a deleted panel's card (`#panel-{id}`)."),
        Region("board.head", "storyboard", False,
               "The board's title, panel count, running time and aspect ratio (`#board-head`)."),
        Region("board.gone", "storyboard", False,
               "Replaces a deleted storyboard's page with a sentence that says so (`#board`)."),
        Region("comment.item", "comment", False,
               "One comment: a new thread appended to its panel's list (`#panel-{panel}-comments`), "
               "a reply to its thread (`#comment-{root}-replies`); pins on the frame follow."),
        Region("comment.thread", "comment", False,
               "A whole thread, replaced where it stands (`#comment-{id}`): resolved or reopened."),
        Region("board.presence", "storyboard", False,
               "Who is on the board now and which panel each has open (`#board-presence`)."),
        Region("take.bar", "take", False, "A running take's progress bar (`#take-{id}-bar`)."),
        Region("take.preview", "take", False,
               "The forming image of a running take (`#panel-{panel}-preview`)."),
        Region("export.row", "export", False,
               "One export in the board's export dialog (`#export-{id}`): status, progress bar, "
               "download links; a new one goes first in `#export-list`."),
        Region("queue.positions", "storyboard", False,
               "Queue positions of the board's waiting takes (`#take-{id}-queue`)."),
        Region("board.bulk", "storyboard", True,
               "The board's \"Generate all\" run: done of total, time left, cancel all "
               "(`#board-bulk`)."),
    )
}  # fmt: skip

_TAKE = ("panel", "take", "status")
_TAKE_SHOWN = ("panel.frame", "panel.takes", "board.bulk")
_EXPORT = ("export", "kind", "status")
CATALOGUE = {
    e.name: e
    for e in (
        EventType("storyboard.updated", (), ("board.head",),
                  "The storyboard was renamed or its default aspect ratio changed."),
        EventType("storyboard.deleted", (), ("board.gone",),
                  "The storyboard (or its whole project) was deleted; open pages say so."),
        EventType("panel.created", ("panel",), ("panel.card", "board.head"),
                  "A panel was added, inserted or duplicated."),
        EventType("panel.updated", ("panel",), ("panel.meta", "panel.frame", "panel.takes", "board.head"),
                  "A panel's fields or its selected take changed."),
        EventType("panel.moved", ("panel", "position"), ("panel.card",),
                  "A panel moved to `position` (0-based); the panels in between shifted."),
        EventType("panel.deleted", ("panel",), ("panel.gone", "board.head"),
                  "A panel left the board (kept, with its takes and comments, for undo)."),
        EventType("panel.restored", ("panel",), ("panel.card", "board.head"),
                  "A deleted panel came back where it stood."),
        EventType("comment.created", ("panel", "comment"), ("comment.item", "panel.meta"),
                  "Someone commented on a panel, started a thread or answered one."),
        EventType("comment.updated", ("panel", "comment"), ("comment.thread",),
                  "A thread (`comment` is its first comment) was resolved or reopened."),
        EventType("presence.changed", ("people",), ("board.presence",),
                  "Who has the board open now: `[{user, name, initials, panel}]`, one entry per "
                  "person (`panel`: the one they have open, or null). Sent when someone arrives, "
                  "leaves or opens another panel.", transient=True),
        EventType("take.queued", _TAKE, _TAKE_SHOWN,
                  "A take was requested, retried, or put back in the queue after its worker was lost "
                  "(then `error` says why)."),
        EventType("take.started", (*_TAKE, "worker"), _TAKE_SHOWN,
                  "A worker claimed the take."),
        EventType("take.progress", (*_TAKE, "progress"), ("take.bar",),
                  "Sampling progress, 0..1, at most `SLATE_PROGRESS_HZ` a second per take.",
                  transient=True),
        EventType("take.preview", (*_TAKE, "progress", "jpeg"), ("take.preview",),
                  "The forming image: a small JPEG, base64.", transient=True),
        EventType("take.succeeded", _TAKE, _TAKE_SHOWN,
                  "The take finished; it is now the panel's selected take."),
        EventType("take.failed", (*_TAKE, "error"), _TAKE_SHOWN,
                  "The take failed; `error` says why in words."),
        EventType("take.cancel_requested", _TAKE, ("panel.frame", "panel.takes"),
                  "Someone asked to stop a running take; it stops at its next step."),
        EventType("take.cancelled", _TAKE, _TAKE_SHOWN, "The take was cancelled."),
        EventType("export.queued", _EXPORT, ("export.row",),
                  "Someone asked for an export of the board (PDF, animatic, ZIP), or it was put "
                  "back in the queue after its worker was lost."),
        EventType("export.progress", (*_EXPORT, "progress"), ("export.row",),
                  "Export progress, 0..1, at most `SLATE_PROGRESS_HZ` a second.", transient=True),
        EventType("export.succeeded", (*_EXPORT, "download_url"), ("export.row",),
                  "The export is ready: `download_url` (members only; `srt_url` for an animatic's "
                  "subtitles)."),
        EventType("export.failed", (*_EXPORT, "error"), ("export.row",),
                  "The export failed; `error` says why in words."),
        EventType("queue.updated", ("positions",), ("queue.positions",),
                  "Where the board's waiting takes stand: `{take id: position}`.", transient=True),
        EventType("script.saved", ("script", "version", "by", "note"), (),
                  "On a script's channel (`/ws/scripts/{id}/events`, `storyboard` is "
                  "`script-{id}`): someone saved, merged, imported or restored version `version`; "
                  "an editor still on an older version is told before they save."),
        EventType("member.changed", ("user",), (),
                  "Someone's role changed or they left the project: their sockets look again, "
                  "and close if they are no longer a member."),
    )
}  # fmt: skip

# Region renderers, registered by the app that owns the templates (no app imports another's).
# A renderer gets the payloads that touch the region (the newest per key) and returns
# {key: {variant: html}}; the variants are EDIT and VIEW for a by_role region, else ALL.
Renderer = Callable[[list[dict]], dict]
_renderers: dict[str, Renderer] = {}


def region_renderer(name: str):
    def register(func: Renderer) -> Renderer:
        assert name in REGIONS, f"unknown region {name}"
        _renderers[name] = func
        return func

    return register


# --- publishing ------------------------------------------------------------------------------


def publish(storyboard_id: int, event: str, data: dict) -> None:
    """Tell everyone watching a storyboard, once the surrounding transaction commits."""
    message = _message(storyboard_id, event, data)
    transaction.on_commit(lambda: outbox().submit(message))


def publish_now(storyboard_id: int, event: str, data: dict) -> None:
    """For short-lived transient events that belong to no transaction (presence, for one):
    sent at once, numbered like any transient event, never waited for."""
    message = _message(storyboard_id, event, data)
    assert CATALOGUE[event].transient, f"{event} is durable: publish it inside its transaction"
    outbox().submit(message)


def _message(storyboard_id: int, event: str, data: dict) -> dict:
    kind = CATALOGUE.get(event)
    if kind is None:
        raise ValueError(f"{event} is not in the event catalogue (studio/events.py)")
    missing = [f for f in kind.fields if f not in data]
    if missing:
        raise ValueError(f"{event} needs {', '.join(missing)}")
    return {"event": event, "data": {**data, "storyboard": storyboard_id, "ts": time.time()}}


def flush(timeout: float = 5.0) -> bool:
    """Wait until everything this process published so far has left (or failed to)."""
    return _outbox.flush(timeout) if _outbox is not None else True


def _flush_after_request(**kwargs):
    # A request's events leave before its thread takes the next request: a web process that
    # dies right after answering has still told everybody.
    flush(timeout=2.0)


request_finished.connect(_flush_after_request, dispatch_uid="slate-events-flush")


# --- names in Redis --------------------------------------------------------------------------


def _prefix() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")


def script_topic(script_id: int) -> str:
    """A script's own channel name where a storyboard id would go: the script page listens
    to it (`/ws/scripts/{id}/events`) through the same hub, numbering and protocol."""
    return f"script-{script_id}"


def storyboard_channel(storyboard_id: int) -> str:
    """The Redis pub/sub channel that carries a storyboard's events to every web process."""
    return f"{_prefix()}:storyboard:{storyboard_id}"


def hub_channel() -> str:
    """Every web process's hub listens here too, so its connection exists (and is checked)
    even while it has no sockets."""
    return f"{_prefix()}:hub"


def sequence_key(storyboard_id: int) -> str:
    return f"{_prefix()}:storyboard:{storyboard_id}:seq"


# Numbering and publishing in one script: Redis runs it atomically, so events reach every
# process in the order of their numbers, whichever process sent them.
DURABLE_LUA = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], seq .. ' ' .. ARGV[1])
return seq
"""
TRANSIENT_LUA = """
local seq = redis.call('GET', KEYS[1]) or '0'
redis.call('PUBLISH', KEYS[2], '~' .. seq .. ' ' .. ARGV[1])
return seq
"""


def current_sequence(storyboard_id: int) -> int:
    """The storyboard's last event number, read before a page is rendered: a page that is
    behind what its socket says it missed something, and resyncs. 0 when Redis is away."""
    from redis.exceptions import RedisError

    try:
        return int(_redis().get(sequence_key(storyboard_id)) or 0)
    except RedisError:
        return 0


_redis_client = None
_lua: tuple | None = None


def _scripts(client):
    """The two Lua scripts, registered once per process (redis-py reloads them if Redis lost them)."""
    global _lua
    if _lua is None:
        _lua = (client.register_script(DURABLE_LUA), client.register_script(TRANSIENT_LUA))
    return _lua


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
    return _redis_client


# --- the sender ------------------------------------------------------------------------------


class Outbox:
    """One thread per process: renders and sends what was published, in order, in batches.

    Everything waiting when the thread wakes up is one batch: a region touched by several
    events is rendered once (only the last event that touches it carries it), a take's
    superseded progress is dropped, and all sends go to Redis in one round trip.
    """

    MAX_BATCH = 500

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.submitted = 0
        self.done = 0
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True, name="slate-events")
        self.thread.start()

    def submit(self, message: dict) -> None:
        for sent in _captures:
            sent.append(message)
        with self.cond:
            self.submitted += 1
        self.queue.put(message)

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            target = self.submitted
            while self.done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                send_batch(batch)
            except Exception:  # Redis is transport: a lost event never undoes a committed change
                log.exception("%d live events were not sent", len(batch))
            finally:
                if self.queue.empty():
                    connections.close_all()  # this thread's own connections; idle now
                with self.cond:
                    self.done += len(batch)
                    self.cond.notify_all()


_captures: list[list[dict]] = []


class captured:
    """`with captured() as sent:` lists every event published meanwhile, as it leaves (tests)."""

    def __enter__(self) -> list[dict]:
        self.sent: list[dict] = []
        _captures.append(self.sent)
        return self.sent

    def __exit__(self, *exc) -> None:
        _captures.remove(self.sent)


_outbox: Outbox | None = None
_outbox_lock = threading.Lock()


def outbox() -> Outbox:
    global _outbox
    with _outbox_lock:
        if _outbox is None:
            _outbox = Outbox()
            atexit.register(flush)  # a command that changed something tells before it exits
    return _outbox


def _coalesce(batch: list[dict]) -> list[dict]:
    """Drop transient events a later one of the same kind and take (or board) supersedes."""
    last = {}
    for i, message in enumerate(batch):
        if CATALOGUE[message["event"]].transient:
            data = message["data"]
            last[(message["event"], data["storyboard"], data.get("take"))] = i
    return [
        m
        for i, m in enumerate(batch)
        if not CATALOGUE[m["event"]].transient
        or last[(m["event"], m["data"]["storyboard"], m["data"].get("take"))] == i
    ]


def render_batch(batch: list[dict]) -> list[dict]:
    """Attach to each event the HTML of the regions it refreshes, rendered once per batch:
    each (region, key) goes with the last event that touches it."""
    owner: dict[tuple[str, object], int] = {}
    for i, message in enumerate(batch):
        for name in CATALOGUE[message["event"]].regions:
            owner[(name, message["data"][REGIONS[name].key])] = i
    html: dict[tuple[str, object], dict] = {}
    for name in {name for name, _ in owner}:
        payloads = [
            batch[i]["data"] for (region, _), i in sorted(owner.items(), key=lambda kv: kv[1])
            if region == name
        ]  # fmt: skip
        try:
            rendered = _renderers[name](payloads)
        except Exception:
            log.exception("region %s could not be rendered; pages will resync", name)
            rendered = None
        for payload in payloads:
            key = payload[REGIONS[name].key]
            html[(name, key)] = None if rendered is None else rendered.get(key, {ALL: ""})
    out = []
    for i, message in enumerate(batch):
        parts = [
            html[(name, message["data"][REGIONS[name].key])]
            for name in CATALOGUE[message["event"]].regions
            if owner[(name, message["data"][REGIONS[name].key])] == i
        ]
        out.append({**message, "html": _join(parts)})
    return out


def _join(parts: list[dict | None]) -> dict | None:
    """Several regions' variants as one: per role if any region differs by role."""
    if any(p is None for p in parts):
        return None  # a render failed: the page is told to resync instead
    if not any(EDIT in p for p in parts):
        return {ALL: "".join(p.get(ALL, "") for p in parts)}
    return {v: "".join(p.get(v, p.get(ALL, "")) for p in parts) for v in (EDIT, VIEW)}


def send_batch(batch: list[dict]) -> None:
    from redis.exceptions import RedisError

    messages = render_batch(_coalesce(batch))
    client = _redis()
    durable, transient = _scripts(client)
    pipe = client.pipeline(transaction=False)
    for message in messages:
        board = message["data"]["storyboard"]
        script = transient if CATALOGUE[message["event"]].transient else durable
        body = json.dumps(message, separators=(",", ":"))
        script(keys=[sequence_key(board), storyboard_channel(board)], args=[body], client=pipe)
    try:
        pipe.execute()
    except RedisError:
        log.warning("Redis unreachable: %d live events not sent; pages resync on reconnect",
                    len(messages))  # fmt: skip
