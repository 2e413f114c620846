"""Refuse an oversized request body before daphne holds it (issue 9).

Twisted reads a whole request body (into a temporary file) before daphne sees the request, and
daphne then queues all of it in memory for the application. Django's own check of
`DATA_UPLOAD_MAX_MEMORY_SIZE` therefore answered a 500 MB body only after the web process had
read it and held it. This request class applies the same setting at the Twisted layer: a
`Content-Length` over the limit is refused as soon as the headers are in, and a chunked body as
soon as what has arrived passes it. The answer is a 413 and a closed connection; what was
received is dropped and the rest is never read.

Only daphne's HTTP/1.1 requests pass through here (`make run`, `runstudio`, `python -m daphne`);
under any other server only Django's check applies.
"""

import json
import logging

from daphne import http_protocol
from django.conf import settings
from twisted.web.http import RESPONSES

logger = logging.getLogger(__name__)


# Paths whose body is a project bundle (storyboards/bundle.py): far larger than any other.
BUNDLE_PATHS = (b"/api/projects/import", b"/projects/import/")


def body_limit(path: bytes) -> int | None:
    if path.split(b"?", 1)[0] in BUNDLE_PATHS:
        return settings.SLATE_BUNDLE_UPLOAD_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyLimitedRequest(http_protocol.WebRequest):
    refused = False
    received = 0

    @property
    def limit(self) -> int | None:
        # The request line is in before the headers; the channel keeps its path until the body.
        return body_limit(getattr(self.channel, "_path", b""))

    def gotLength(self, length):
        """Called by the channel once the headers are in; `length` is None for a chunked body."""
        limit = self.limit
        if limit is not None and length is not None and length > limit:
            # The channel answers "Expect: 100-continue" right after this; no invitation to send.
            self.requestHeaders.removeHeader(b"Expect")
            self.refuse(limit)
        else:
            super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return  # the rest of a read already in hand while the connection closes
        self.received += len(data)
        limit = self.limit
        if limit is not None and self.received > limit:
            self.refuse(limit)
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self.refused:  # a refused body can still end within the last read
            super().requestReceived(command, path, version)

    def refuse(self, limit: int) -> None:
        self.refused = True
        if self.content is not None:
            self.content.close()  # frees what was received so far
        detail = f"The request body is larger than {limit // 2**20} MB."
        body = json.dumps({"detail": detail}).encode()
        head = (
            f"HTTP/1.1 413 {RESPONSES[413].decode()}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.channel.transport.write(head.encode() + body)
        # Stops reading now and closes once the answer is written: the client's sends then fail.
        self.channel.loseConnection()
        peer = getattr(self.client, "host", "-")
        logger.warning("413: refused a request body over %d MB from %s", limit // 2**20, peer)


def install() -> None:
    """Make daphne build every HTTP request with BodyLimitedRequest.

    daphne's HTTPFactory looks `WebRequest` up in its module for each new connection, so setting
    it before the server starts (studio/asgi.py is imported first) is enough. Every process loads
    daphne (it is an installed app), so this always runs; another server never builds the class.
    """
    http_protocol.WebRequest = BodyLimitedRequest
