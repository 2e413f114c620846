import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_asgi_app = get_asgi_application()  # load Django before anything imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from studio import bodylimit  # noqa: E402
from studio.middleware import BearerTokenMiddleware, BrowserOriginValidator  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402

bodylimit.install()  # daphne refuses an oversized body before reading it

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(BearerTokenMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
