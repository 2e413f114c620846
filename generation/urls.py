from django.urls import path

import studio.converters  # noqa: F401  (the <id:…> converter)

from . import views

urlpatterns = [
    path("panels/<id:panel_id>/prompt/", views.panel_prompt, name="panel-prompt"),
]
