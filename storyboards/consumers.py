"""Live storyboard sockets. Both listen to the storyboard through the process's hub
(studio/fanout.py); each speaks its own language: JSON events for scripts (`/events`), HTML
fragments with out-of-band swaps for the htmx page (`/live`). Neither renders nor queries per
event: the bytes were made once, by the publisher and the hub.

Protocol (docs/events.md): `hello` on connect and `ping` every 15 s carry the storyboard's
current sequence number; durable events carry the next one; `resync` says the socket fell behind.
"""

import asyncio
import functools
import json
import logging
import uuid

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.http import Http404
from django.utils.crypto import constant_time_compare

from studio import fanout, presence
from studio.auth import bearer_from_header, user_for_token
from studio.events import EDIT, VIEW, script_topic

from . import selectors
from .models import Action

log = logging.getLogger(__name__)

# Close codes a server may send are 1000 or 4000-4999 (autobahn refuses 1012/1013); the page
# reconnects on both, after a pause, and resyncs from its hello.
LOST_REDIS = 4012  # this process lost Redis: events may have been missed
TOO_SLOW = 4013  # the reader stopped reading: cut off rather than buffered


class StoryboardSocket(AsyncWebsocketConsumer):
    channel_layer_alias = None  # no per-socket channel: the hub delivers

    # --- socket handlers ---

    async def connect(self):
        self.storyboard_id = self.topic()
        self.listener, self.sender = None, None
        self.membership = await self.load_membership()
        if self.membership is None:
            await self.close()  # refused before accept: the handshake fails, nothing revealed
            return
        listener = fanout.Listener()
        self.hub = fanout.hub()
        if not await self.hub.join(self.storyboard_id, listener):
            await self.close()  # no Redis, no live events: refuse, the page retries
            return
        self.listener = listener
        await self.accept()
        try:
            seq = await self.hub.sequence(self.storyboard_id)
        except Exception:
            seq = 0
        self.hello_seq = seq  # events up to it may already wait in the inbox: not sent again
        await self.send_control({"type": "hello", "storyboard": self.storyboard_id, "seq": seq})
        self.sender = asyncio.ensure_future(self.deliver())

    async def disconnect(self, code):
        if self.sender is not None:
            self.sender.cancel()
        if self.listener is not None:
            await self.hub.leave(self.storyboard_id, self.listener)
            self.listener = None

    async def receive(self, text_data=None, bytes_data=None):
        """Sockets only listen: changes go through the API or the page's forms."""

    # --- helpers ---

    def topic(self):
        """What this socket listens to: a storyboard (its id) or a script ("script-{id}")."""
        return self.scope["url_route"]["kwargs"]["storyboard_id"]

    def membership_of(self, user):
        return selectors.storyboard_get_for_member(user=user, storyboard_id=self.storyboard_id)[1]

    @database_sync_to_async
    def load_membership(self, again: bool = False):
        """The membership this socket acts on; `again` also checks that what let it in still
        holds: the account is active, and its token still exists or its session still matches
        the password (a new password ends old sessions and tokens)."""
        user = self.scope["user"]
        if again and not self.still_authenticated(user):
            return None
        try:
            return self.membership_of(user)
        except Http404:
            return None

    def still_authenticated(self, user) -> bool:
        account = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
        if account is None:
            return False
        headers = dict(self.scope.get("headers", []))
        key = bearer_from_header(headers.get(b"authorization", b"").decode("latin-1"))
        session = self.scope.get("session")
        if session is not None and session.get(SESSION_KEY) == str(user.pk):
            return constant_time_compare(
                session.get(HASH_SESSION_KEY, ""), account.get_session_auth_hash()
            )
        return key is not None and user_for_token(key) is not None

    @property
    def variant(self) -> str:
        return EDIT if self.membership.may(Action.EDIT) else VIEW

    async def deliver(self):
        listener = self.listener
        try:
            while True:
                await listener.wake.wait()
                listener.wake.clear()
                if listener.lost:
                    await self.close(code=LOST_REDIS)
                    return
                if listener.dropped:
                    listener.dropped = False
                    await self.send_control({"type": "resync", "reason": "too slow"})
                batches = listener.take()
                if batches:
                    batch = fanout.merge(batches)
                    if self.hello_seq is not None:
                        batch, self.hello_seq = batch.after(self.hello_seq), None
                    if self.scope["user"].pk in batch.members_changed:
                        self.membership = await self.load_membership(again=True)  # current role
                        if self.membership is None:  # removed from the project: stop hearing it
                            await self.close()
                            return
                    await self.forward(batch)
                    if unsent_bytes(self.base_send) > settings.SLATE_SOCKET_MAX_UNSENT:
                        # A socket that stopped reading must not hold the server's memory (or
                        # anyone's events): cut it off; when it reads again it resyncs.
                        await self.close(code=TOO_SLOW)
                        return
                for seq in listener.pings:
                    await self.send_control({"type": "ping", "seq": seq})
                if listener.pings:
                    await self.on_ping()
                listener.pings = []
        except asyncio.CancelledError:
            pass

    async def send_control(self, message: dict):
        await self.send(json.dumps(message))

    async def forward(self, batch):
        raise NotImplementedError

    async def on_ping(self):
        """Every hub ping (15 s): what a socket must keep alive."""


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other path under the socket router: refused like an outsider, nothing revealed."""

    channel_layer_alias = None

    async def connect(self):
        await self.close()


def unsent_bytes(send) -> int:
    """What daphne still holds for this socket because the peer is not reading (0 where the
    server is not daphne, e.g. in-process tests). ASGI has no back-pressure for socket sends:
    daphne's `send` is `partial(server.handle_reply, protocol)`, under Channels' session wrapper."""
    for _ in range(4):  # unwrap middleware (channels.sessions.InstanceSessionWrapper.real_send)
        if isinstance(send, functools.partial) or send is None:
            break
        send = getattr(getattr(send, "__self__", None), "real_send", None)
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "dataBuffer"):
        return 0
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class StoryboardEventsConsumer(StoryboardSocket):
    async def forward(self, batch):
        for text in batch.json_frames():
            await self.send(text)


class ScriptEventsConsumer(StoryboardEventsConsumer):
    """A script's page hears `script.saved` (whoever saved, restored or merged) as JSON, through
    the same hub, numbering and protocol as a storyboard."""

    def topic(self):
        return script_topic(self.scope["url_route"]["kwargs"]["script_id"])

    def membership_of(self, user):
        script_id = self.scope["url_route"]["kwargs"]["script_id"]
        return selectors.script_get_for_member(user=user, script_id=script_id)[1]


class StoryboardLiveConsumer(StoryboardSocket):
    """The board page. It also tells the board who is here and which panel each has open: the
    page sends `{"type": "focus", "panel": id or null}`; presence lives in Redis (studio/presence.py)
    and leaves with the socket."""

    FOCUS_EVERY_S = 0.25  # a page flicking through panels announces at most this often

    async def connect(self):
        self.focused, self.focus_task, self.present = None, None, False
        self.shown = None  # the focus last checked on this board: the only one announced
        await super().connect()
        if self.listener is not None:
            self.present = await self.presence()

    async def disconnect(self, code):
        if self.focus_task is not None:
            self.focus_task.cancel()
        await super().disconnect(code)
        if self.present:
            self.present = False
            await sync_to_async(self.leave, thread_sensitive=False)()

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") != "focus" or not self.present:
            return
        panel = message.get("panel")
        if panel is not None and (type(panel) is not int or not 0 < panel < 2**63):
            return
        self.focused = panel
        if self.focus_task is None or self.focus_task.done():
            self.focus_task = asyncio.ensure_future(self.announce_focus())

    async def announce_focus(self):
        told = object()
        while told != self.focused:
            told = self.focused
            on_board = told is None or await self.on_this_board(told)
            # Another board's panel is shown as on the board; a focus sent during the check
            # waits for its own check (announcing self.focused here would skip it).
            self.shown = told if on_board else None
            await self.presence()
            await asyncio.sleep(self.FOCUS_EVERY_S)

    @database_sync_to_async
    def on_this_board(self, panel: int) -> bool:
        return selectors.panel_on_board(panel_id=panel, storyboard_id=int(self.storyboard_id))

    async def on_ping(self):
        if self.present:
            await self.presence(quiet=True)

    async def presence(self, *, quiet: bool = False) -> bool:
        """Enter (or refresh) the board's presence list and tell the board (Redis only, off
        the event loop). Redis trouble costs presence only, never the socket."""
        return await sync_to_async(self._enter, thread_sensitive=False)(quiet)

    def _enter(self, quiet: bool) -> bool:
        try:
            board = int(self.storyboard_id)
            presence.enter(board, self.channel_name_for_presence(), self.scope["user"], self.shown)
            if not quiet:
                presence.announce(board)
            return True
        except Exception:
            log.warning("presence on storyboard %s failed", self.storyboard_id, exc_info=True)
            return self.present

    def leave(self) -> None:
        """Off the list (Redis only: a socket may close after its database is gone)."""
        try:
            presence.leave(int(self.storyboard_id), self.channel_name_for_presence())
            presence.announce(int(self.storyboard_id))
        except Exception:
            log.warning("presence on storyboard %s failed", self.storyboard_id, exc_info=True)

    def channel_name_for_presence(self) -> str:
        if not hasattr(self, "_presence_id"):
            self._presence_id = uuid.uuid4().hex
        return self._presence_id

    async def forward(self, batch):
        await self.send(batch.live_frame(self.variant))
