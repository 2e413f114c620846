"""Socket auth: the browser's session (AuthMiddlewareStack), else `Authorization: Bearer <token>`."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from .auth import bearer_from_header, user_for_token


class BearerTokenMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            headers = dict(scope.get("headers", []))
            key = bearer_from_header(headers.get(b"authorization", b"").decode("latin-1"))
            if key:
                token_user = await database_sync_to_async(user_for_token)(key)
                if token_user is not None:
                    scope = {**scope, "user": token_user}
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator:
    """Browsers always send Origin on a socket: it must be this site's own origin (scheme, host
    and port, as Django's CSRF check wants it for forms) or one of CSRF_TRUSTED_ORIGINS, and the
    Host one of ALLOWED_HOSTS. No cross-site page may ride a session cookie into a socket.
    Scripts send no Origin and authenticate with a Bearer token."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is None or same_origin(scope, origin.decode("latin-1"), headers.get(b"host")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def same_origin(scope, origin: str, host: bytes | None) -> bool:
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    if not host:
        return False
    host = host.decode("latin-1")
    if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return origin == f"{scheme}://{host}"
