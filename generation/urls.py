from django.urls import path

import studio.converters  # noqa: F401  (the <id:…> converter)

from . import export_views, ledger_views, views

urlpatterns = [
    path("panels/<id:panel_id>/prompt/", views.panel_prompt, name="panel-prompt"),
    path(
        "projects/<id:project_id>/ledger/", ledger_views.project_ledger_page, name="project-ledger"
    ),
    path(
        "projects/<id:project_id>/ledger.csv",
        ledger_views.project_ledger_csv,
        name="project-ledger-csv",
    ),
    path(
        "projects/<id:project_id>/credits/",
        ledger_views.project_credits_page,
        name="project-credits",
    ),
    path(
        "storyboards/<id:storyboard_id>/ledger/",
        ledger_views.storyboard_ledger_page,
        name="storyboard-ledger",
    ),
    path(
        "storyboards/<id:storyboard_id>/exports/",
        export_views.storyboard_exports,
        name="storyboard-exports",
    ),
    path("exports/<id:export_id>/download/", export_views.export_download, name="export-download"),
    path("projects/<id:project_id>/bundles/", export_views.project_bundles, name="project-bundles"),
]
