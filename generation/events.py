"""One way to tell everybody: `publish` sends a live event to every socket on a storyboard.

Every event carries the ids it concerns and `ts`, the sender's wall clock (latency probes).
Events sent inside a transaction leave only if it commits.
"""

import asyncio
import logging
import threading
import time

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def storyboard_group(storyboard_id: int) -> str:
    return f"storyboard-{storyboard_id}"


def _sender_loop() -> asyncio.AbstractEventLoop:
    """One long-lived loop per process for sending. async_to_sync would start a thread, a loop
    and a Redis connection for every event: milliseconds each, inside the step callback."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True, name="slate-events").start()
    return _loop


def _send(group: str, message: dict) -> None:
    future = asyncio.run_coroutine_threadsafe(
        get_channel_layer().group_send(group, message), _sender_loop()
    )
    try:
        future.result(timeout=5)  # waiting keeps events in order
    except Exception:  # Redis is transport: a lost live event must never undo a committed change
        log.exception("live event %s to %s was not sent", message["event"], group)


def publish(storyboard_id: int, event: str, data: dict) -> None:
    message = {"type": "live.event", "event": event, "data": {**data, "ts": time.time()}}
    transaction.on_commit(lambda: _send(storyboard_group(storyboard_id), message))
