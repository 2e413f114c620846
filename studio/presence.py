"""Who is on a storyboard now, and which panel each has open.

Presence is transport, not state: it lives in Redis (a hash per board, one field per open page)
and travels as the transient `presence.changed` event (`publish_now`), never in the database. A
page that closes leaves at once (its socket's disconnect); a page whose process died simply stops
refreshing its entry, and entries older than STALE_S are dropped the next time anyone reads.
"""

from __future__ import annotations

import json
import logging
import time

from .events import _prefix, _redis, publish_now

log = logging.getLogger(__name__)

STALE_S = 45  # sockets refresh on every hub ping (15 s): three missed pings and it is gone
PALETTE = 8  # avatar colours, picked by user id so a person keeps theirs everywhere


def _key(storyboard_id: int) -> str:
    return f"{_prefix()}:presence:{storyboard_id}"


def initials(name: str) -> str:
    words = [w for w in name.replace(".", " ").replace("_", " ").split() if w]
    letters = "".join(w[0] for w in words[:2]) or name[:2]
    return letters.upper()


def _entry(user, panel: int | None) -> str:
    name = user.get_full_name() or user.username
    return json.dumps(
        {"user": user.pk, "username": user.username, "name": name, "panel": panel,
         "at": time.time()}
    )  # fmt: skip


def enter(storyboard_id: int, socket_id: str, user, panel: int | None = None) -> None:
    """A page opened (or refreshed its entry, or opened another panel)."""
    client, key = _redis(), _key(storyboard_id)
    pipe = client.pipeline(transaction=False)
    pipe.hset(key, socket_id, _entry(user, panel))
    pipe.expire(key, 24 * 3600)  # a board nobody visits again leaves nothing behind
    pipe.execute()


def leave(storyboard_id: int, socket_id: str) -> None:
    _redis().hdel(_key(storyboard_id), socket_id)


def people(storyboard_id: int) -> list[dict]:
    """One entry per person (several tabs are one person), the panel they opened last."""
    client, key = _redis(), _key(storyboard_id)
    now, stale, by_user = time.time(), [], {}
    for field, raw in client.hgetall(key).items():
        entry = json.loads(raw)
        if now - entry["at"] > STALE_S:
            stale.append(field)
            continue
        mine = by_user.get(entry["user"])
        if mine is None or (
            entry["panel"] is not None and (mine["panel"] is None or entry["at"] > mine["at"])
        ):
            by_user[entry["user"]] = entry
    if stale:
        client.hdel(key, *stale)
    return [
        {"user": e["user"], "username": e["username"], "name": e["name"],
         "initials": initials(e["name"]), "colour": e["user"] % PALETTE, "panel": e["panel"]}
        for e in sorted(by_user.values(), key=lambda e: e["name"].lower())
    ]  # fmt: skip


def announce(storyboard_id: int) -> None:
    """Tell every page on the board who is there now (the newest announcement replaces older)."""
    publish_now(
        storyboard_id,
        "presence.changed",
        {"storyboard": storyboard_id, "people": people(storyboard_id)},
    )
