"""Live storyboard sockets. Both join the storyboard's group; each speaks its own language:
JSON events for scripts (`/events`), HTML fragments with out-of-band swaps for htmx (`/live`)."""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import Http404

from generation.events import storyboard_group

from . import live, selectors


class StoryboardSocket(AsyncWebsocketConsumer):
    # --- socket handlers ---

    async def connect(self):
        self.storyboard_id = self.scope["url_route"]["kwargs"]["storyboard_id"]
        self.membership = await self.load_membership()
        if self.membership is None:
            await self.close()  # refused before accept: the handshake fails, nothing revealed
            return
        self.group = storyboard_group(self.storyboard_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.on_joined()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

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

    async def on_joined(self):
        pass

    # --- channel layer handlers ---

    async def live_event(self, message):
        if (
            message["event"] == "member.changed"
            and message["data"]["user"] == self.scope["user"].pk
        ):
            self.membership = await self.load_membership()  # sockets act on the current role
            if self.membership is None:  # removed from the project: stop hearing it now
                await self.channel_layer.group_discard(self.group, self.channel_name)
                self.group = None
                await self.close()
                return
        if self.group is None:
            return
        await self.forward(message)

    async def forward(self, message):
        raise NotImplementedError


class StoryboardEventsConsumer(StoryboardSocket):
    async def on_joined(self):
        await self.send(json.dumps({"type": "hello", "storyboard": self.storyboard_id}))

    async def forward(self, message):
        await self.send(json.dumps({"type": message["event"], **message["data"]}))


class StoryboardLiveConsumer(StoryboardSocket):
    async def forward(self, message):
        html = await live.render_event(message["event"], message["data"], self.membership)
        if html:
            await self.send(html)
