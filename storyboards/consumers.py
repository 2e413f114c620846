"""Live storyboard sockets. Both listen to the storyboard through the process's hub
(studio/fanout.py); each speaks its own language: JSON events for scripts (`/events`), HTML
fragments with out-of-band swaps for the htmx page (`/live`). Neither renders nor queries per
event: the bytes were made once, by the publisher and the hub.

Protocol (docs/events.md): `hello` on connect and `ping` every 15 s carry the storyboard's
current sequence number; durable events carry the next one; `resync` says the socket fell behind.
"""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import Http404

from studio import fanout
from studio.events import EDIT, VIEW

from . import selectors

LOST_REDIS = 1012  # "service restart": browsers (and the htmx ws extension) reconnect


class StoryboardSocket(AsyncWebsocketConsumer):
    channel_layer_alias = None  # no per-socket channel: the hub delivers

    # --- socket handlers ---

    async def connect(self):
        self.storyboard_id = self.scope["url_route"]["kwargs"]["storyboard_id"]
        self.listener = None
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
        if self.listener is not None:
            self.sender.cancel()
            await self.hub.leave(self.storyboard_id, self.listener)
            self.listener = None

    async def receive(self, text_data=None, bytes_data=None):
        """Sockets only listen: changes go through the API or the page's forms."""

    # --- helpers ---

    @database_sync_to_async
    def load_membership(self):
        try:
            return selectors.storyboard_get_for_member(
                user=self.scope["user"], storyboard_id=self.storyboard_id
            )[1]
        except Http404:
            return None

    @property
    def variant(self) -> str:
        return EDIT if self.membership.can_edit else VIEW

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
                        self.membership = await self.load_membership()  # act on the current role
                        if self.membership is None:  # removed from the project: stop hearing it
                            await self.close()
                            return
                    await self.forward(batch)
                for seq in listener.pings:
                    await self.send_control({"type": "ping", "seq": seq})
                listener.pings = []
        except asyncio.CancelledError:
            pass

    async def send_control(self, message: dict):
        await self.send(json.dumps(message))

    async def forward(self, batch):
        raise NotImplementedError


class StoryboardEventsConsumer(StoryboardSocket):
    async def forward(self, batch):
        for text in batch.json_frames():
            await self.send(text)


class StoryboardLiveConsumer(StoryboardSocket):
    async def forward(self, batch):
        await self.send(batch.live_frame(self.variant))
