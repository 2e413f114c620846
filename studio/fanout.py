"""Fan-out: each web process hears a storyboard once and hands the same bytes to its sockets.

One Redis connection per process subscribes to the storyboards that have sockets here (the first
socket subscribes, the last one unsubscribes; opening or closing a socket is otherwise pure
memory, so closing hundreds at once costs Redis nothing). Whatever arrives together becomes one
`Batch`, decoded once, whose frames are built once per role and language and shared by every
socket that gets it: a page costs one send per batch, not one render per event.

A socket whose page falls behind keeps at most MAX_PENDING batches; beyond that it is dropped
(told to resync), never allowed to hold up the others. If the Redis connection is lost, every
socket here is closed (code 4012) so pages reconnect and resync: nothing is silently missed. Every PING_S seconds each socket is told the storyboard's current number, so a
page that missed the last event of a quiet board still notices.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re

from django.conf import settings

from .events import ALL, hub_channel, sequence_key, storyboard_channel

log = logging.getLogger(__name__)

PING_S = 15.0
MAX_PENDING = 200
_CHANNEL_ID = re.compile(rb":storyboard:((?:script-)?\d+)$")  # a board, or a script's topic


class Item:
    """One event as every socket here sees it, decoded once."""

    __slots__ = ("seq", "transient", "event", "data", "html")

    def __init__(self, raw: bytes):
        head, _, body = raw.partition(b" ")
        self.transient = head.startswith(b"~")
        self.seq = int(head.lstrip(b"~"))
        message = json.loads(body)
        self.event, self.data, self.html = message["event"], message["data"], message.get("html")

    @property
    def coalesce_key(self):
        return (self.event, self.data.get("take")) if self.transient else None

    def json_text(self) -> str:
        extra = {"transient": True} if self.transient else {}
        return json.dumps({"type": self.event, "seq": self.seq, **extra, **self.data})

    def html_text(self, variant: str) -> str:
        """The page's language: a numbered marker, then the fragments to swap. `None` html means
        the publisher could not render: the page is told to resync instead."""
        marker = f"<!--{'~' if self.transient else ''}{self.seq}-->"
        if self.html is None:
            return marker + '<template data-resync="render"></template>'
        return marker + self.html.get(variant, self.html.get(ALL, ""))


class Batch:
    """Items that arrived together; frames built lazily, once per variant, shared by sockets."""

    def __init__(self, items: list[Item]):
        self.items = items
        self._live: dict[str, str] = {}
        self._json: list[str] | None = None
        self.members_changed = {
            i.data["user"] for i in items if i.event == "member.changed" and "user" in i.data
        }

    def after(self, seq: int) -> Batch:
        """What a socket that said hello with `seq` has not heard yet (events that arrived
        between its subscription and its hello are already counted in that number)."""
        fresh = [i for i in self.items if i.seq > seq or (i.transient and i.seq == seq)]
        return self if len(fresh) == len(self.items) else Batch(fresh)

    def live_frame(self, variant: str) -> str:
        if variant not in self._live:
            self._live[variant] = "".join(i.html_text(variant) for i in self.items)
        return self._live[variant]

    def json_frames(self) -> list[str]:
        if self._json is None:
            self._json = [i.json_text() for i in self.items]
        return self._json


def merge(batches: list[Batch]) -> Batch:
    """Several pending batches as one, the newest progress of each take only."""
    if len(batches) == 1:
        return batches[0]
    items = [i for b in batches for i in b.items]
    last = {i.coalesce_key: n for n, i in enumerate(items) if i.coalesce_key}
    return Batch(
        [i for n, i in enumerate(items) if not i.coalesce_key or last[i.coalesce_key] == n]
    )


class Listener:
    """A socket's inbox: batches waiting to be sent, a wake-up, and why it must stop."""

    def __init__(self):
        self.pending: list[Batch] = []
        self.wake = asyncio.Event()
        self.lost = False  # the process lost Redis: close, the page reconnects and resyncs
        self.dropped = False  # fell too far behind: resync
        self.pings: list[int] = []

    def push(self, batch: Batch) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.pending.clear()
            self.dropped = True
        else:
            self.pending.append(batch)
        self.wake.set()

    def ping(self, seq: int) -> None:
        self.pings = [seq]
        self.wake.set()

    def lose(self) -> None:
        self.lost = True
        self.wake.set()

    def take(self) -> list[Batch]:
        batches, self.pending = self.pending, []
        return batches


class Hub:
    """The process's one subscriber. Lives on the server's event loop."""

    def __init__(self):
        self.listeners: dict[int, set[Listener]] = {}
        self.redis = None
        self.pubsub = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()

    async def join(self, storyboard_id: int, listener: Listener) -> bool:
        """False when Redis cannot be reached: the socket should be refused (the page retries)."""
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())
        try:
            await asyncio.wait_for(self.ready.wait(), timeout=3)
        except TimeoutError:
            return False
        async with self.lock:
            first = storyboard_id not in self.listeners
            self.listeners.setdefault(storyboard_id, set()).add(listener)
            if first:
                try:
                    await self.pubsub.subscribe(storyboard_channel(storyboard_id))
                except Exception:
                    self.listeners[storyboard_id].discard(listener)
                    return False
        return True

    async def leave(self, storyboard_id: int, listener: Listener) -> None:
        async with self.lock:
            group = self.listeners.get(storyboard_id)
            if group is None:
                return
            group.discard(listener)
            if not group:
                del self.listeners[storyboard_id]
                if self.ready.is_set():
                    try:
                        await self.pubsub.unsubscribe(storyboard_channel(storyboard_id))
                    except Exception:  # the reader notices a dead connection and recovers
                        log.debug("unsubscribe failed", exc_info=True)

    async def sequence(self, storyboard_id: int) -> int:
        return int(await self.redis.get(sequence_key(storyboard_id)) or 0)

    # --- the reader ---

    async def _run(self) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        delay = 0.2
        while True:
            try:
                self.redis = aioredis.Redis.from_url(
                    settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=10,
                    client_name=hub_client_name(),
                    retry=Retry(NoBackoff(), 0),  # a silent reconnect would hide lost events
                )  # fmt: skip
                self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                async with self.lock:
                    # Always subscribed to something: the connection exists (and is health-checked)
                    # even while no socket is open here.
                    await self.pubsub.subscribe(hub_channel())
                    for storyboard_id in self.listeners:
                        await self.pubsub.subscribe(storyboard_channel(storyboard_id))
                    self.ready.set()
                delay = 0.2
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.ready.is_set():
                    log.warning(
                        "live events: lost Redis (%s); closing this process's sockets", error
                    )
                self.ready.clear()
                self._lose_everyone()
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + PING_S
        while True:
            arrived = []
            message = await self.pubsub.get_message(timeout=1.0)
            while message is not None and len(arrived) < 1000:
                if message["type"] == "message":
                    arrived.append(message)
                message = await self.pubsub.get_message(timeout=0)
            if arrived:
                self._dispatch(arrived)
            if loop.time() >= next_ping:
                await self._ping_everyone()
                next_ping = loop.time() + PING_S

    def _dispatch(self, arrived: list[dict]) -> None:
        by_board: dict[int | str, list[Item]] = {}
        for message in arrived:
            match = _CHANNEL_ID.search(message["channel"])
            if match is None:
                continue
            try:
                topic = match.group(1).decode()
                key = int(topic) if topic.isdigit() else topic
                by_board.setdefault(key, []).append(Item(message["data"]))
            except (ValueError, KeyError):
                log.warning("live events: unreadable message on %s", message["channel"])
        for storyboard_id, items in by_board.items():
            batch = Batch(items)
            for listener in self.listeners.get(storyboard_id, ()):
                listener.push(batch)

    async def _ping_everyone(self) -> None:
        boards = list(self.listeners)
        if not boards:
            return
        values = await self.redis.mget([sequence_key(b) for b in boards])
        for board, value in zip(boards, values, strict=True):
            for listener in self.listeners.get(board, ()):
                listener.ping(int(value or 0))

    def _lose_everyone(self) -> None:
        for group in self.listeners.values():
            for listener in group:
                listener.lose()
        self.listeners.clear()

    async def _close(self) -> None:
        for closer in (getattr(self.pubsub, "aclose", None), getattr(self.redis, "aclose", None)):
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    pass


def hub_client_name() -> str:
    """How the hub's Redis connections name themselves (CLIENT LIST): one per process."""
    return f"slate-hub-{os.getpid()}"


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (one per server process; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(id(loop))
    if current is None or current.loop is not loop:
        current = _hubs[id(loop)] = Hub()
    return current
