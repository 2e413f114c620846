from django.urls import include, path

import studio.converters  # noqa: F401  (the <id:…> converter)

from . import bundle_views, views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/import/", bundle_views.project_import, name="project-import"),
    path("signup/", views.signup, name="signup"),
    path("account/tokens/", views.account_tokens, name="account-tokens"),
    path("projects/<id:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<id:project_id>/members/", views.member_change, name="member-change"),
    path("projects/<id:project_id>/rename/", views.project_rename, name="project-rename"),
    path("projects/<id:project_id>/delete/", views.project_delete, name="project-delete"),
    path("storyboards/<id:storyboard_id>/", views.storyboard_detail, name="storyboard-detail"),
    path("storyboards/<id:storyboard_id>/panels/", views.panel_add, name="panel-add"),
    path(
        "storyboards/<id:storyboard_id>/settings/",
        views.storyboard_settings,
        name="storyboard-settings",
    ),
    path(
        "storyboards/<id:storyboard_id>/delete/",
        views.storyboard_delete,
        name="storyboard-delete",
    ),
    path(
        "storyboards/<id:storyboard_id>/generate-all/",
        views.storyboard_generate_all,
        name="generate-all",
    ),
    path(
        "storyboards/<id:storyboard_id>/cancel-all/",
        views.storyboard_cancel_all,
        name="cancel-all",
    ),
    path("panels/<id:panel_id>/card/", views.panel_card, name="panel-card"),
    path("panels/<id:panel_id>/inspector/", views.panel_inspector, name="panel-inspector"),
    path("panels/<id:panel_id>/edit/", views.panel_edit, name="panel-edit"),
    path("panels/<id:panel_id>/duplicate/", views.panel_duplicate, name="panel-duplicate"),
    path("panels/<id:panel_id>/delete/", views.panel_delete, name="panel-delete"),
    path("panels/<id:panel_id>/restore/", views.panel_restore, name="panel-restore"),
    path("panels/<id:panel_id>/resync/", views.panel_resync, name="panel-resync"),
    path("panels/<id:panel_id>/keep/", views.panel_keep, name="panel-keep"),
    path("panels/<id:panel_id>/status/", views.panel_status, name="panel-status"),
    path("panels/<id:panel_id>/move/", views.panel_move, name="panel-move"),
    path("panels/<id:panel_id>/generate/", views.panel_generate, name="panel-generate"),
    path("panels/<id:panel_id>/comments/", views.comment_add, name="comment-add"),
    path("takes/compare/", views.take_compare, name="take-compare"),
    path("takes/<id:take_id>/<str:action>/", views.take_action, name="take-action"),
    path("media/<path:name>", views.media, name="media"),
    path("", include("storyboards.script_urls")),
    path("", include("storyboards.review_urls")),
]
