"""Socket auth: the browser's session (AuthMiddlewareStack), else `Authorization: Bearer <token>`."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.utils.http import is_same_domain

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


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin on a socket: check it against ALLOWED_HOSTS (no cross-site
    socket may ride a session cookie). Scripts send none and authenticate with a Bearer token."""

    def __init__(self, application):
        super().__init__(application, [])

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)

    def validate_origin(self, parsed_origin):
        host = parsed_origin.hostname or ""
        return any(is_same_domain(host, pattern) for pattern in settings.ALLOWED_HOSTS) or any(
            self.match_allowed_origin(parsed_origin, origin)
            for origin in settings.CSRF_TRUSTED_ORIGINS
        )
