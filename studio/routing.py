from django.urls import path, re_path

import studio.converters  # noqa: F401  (the <id:…> converter)
from storyboards import consumers

websocket_urlpatterns = [
    path("ws/storyboards/<id:storyboard_id>/events", consumers.StoryboardEventsConsumer.as_asgi()),
    path("ws/storyboards/<id:storyboard_id>/live", consumers.StoryboardLiveConsumer.as_asgi()),
    path("ws/scripts/<id:script_id>/events", consumers.ScriptEventsConsumer.as_asgi()),
    re_path(r"", consumers.NoSuchSocket.as_asgi()),  # anything else: refused, not a traceback
]
