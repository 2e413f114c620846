"""One way to tell everybody: `publish` sends a live event to every socket on a storyboard.

Every event carries the ids it concerns and `ts`, the sender's wall clock (latency probes).
Events sent inside a transaction leave only if it commits.
"""

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def storyboard_group(storyboard_id: int) -> str:
    return f"storyboard-{storyboard_id}"


def publish(storyboard_id: int, event: str, data: dict) -> None:
    message = {"type": "live.event", "event": event, "data": {**data, "ts": time.time()}}

    def send():
        async_to_sync(get_channel_layer().group_send)(storyboard_group(storyboard_id), message)

    transaction.on_commit(send)
