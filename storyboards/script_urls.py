"""Script, breakdown and cast pages (storyboards/script_views.py)."""

from django.urls import path

import studio.converters  # noqa: F401  (the <id:…> converter)

from . import script_views as views

urlpatterns = [
    path("projects/<id:project_id>/scripts/", views.project_scripts, name="project-scripts"),
    path("projects/<id:project_id>/scripts/new/", views.script_create, name="script-create"),
    path("projects/<id:project_id>/scripts/import/", views.script_import, name="script-import"),
    path("scripts/<id:script_id>/", views.script_editor, name="script-editor"),
    path("scripts/<id:script_id>/preview/", views.script_preview, name="script-preview"),
    path("scripts/<id:script_id>/save/", views.script_save, name="script-save"),
    path("scripts/<id:script_id>/versions/", views.script_versions, name="script-versions"),
    path(
        "scripts/<id:script_id>/versions/<id:number>/",
        views.script_version,
        name="script-version",
    ),
    path("scripts/<id:script_id>/diff/", views.script_diff, name="script-diff"),
    path("scripts/<id:script_id>/restore/", views.script_restore, name="script-restore"),
    path("scripts/<id:script_id>/export.fountain", views.script_export, name="script-export"),
    path("scripts/<id:script_id>/rename/", views.script_rename, name="script-rename"),
    path("scripts/<id:script_id>/delete/", views.script_delete, name="script-delete"),
    path("scripts/<id:script_id>/breakdown/", views.script_breakdown, name="script-breakdown"),
    path("scenes/<id:scene_id>/storyboard/", views.scene_storyboard, name="scene-storyboard"),
    path("projects/<id:project_id>/cast/", views.project_cast, name="project-cast"),
    path(
        "projects/<id:project_id>/cast/characters/",
        views.character_create,
        name="character-create",
    ),
    path("characters/<id:character_id>/", views.character_edit, name="character-edit"),
    path("projects/<id:project_id>/cast/locations/", views.location_create, name="location-create"),
    path("locations/<id:location_id>/", views.location_edit, name="location-edit"),
    path("projects/<id:project_id>/cast/styles/", views.style_create, name="style-create"),
    path("styles/<id:preset_id>/", views.style_edit, name="style-edit"),
    path("styles/<id:preset_id>/delete/", views.style_delete, name="style-delete"),
]
