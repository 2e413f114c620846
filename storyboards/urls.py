from django.urls import path

from . import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("signup/", views.signup, name="signup"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/members/", views.member_change, name="member-change"),
    path("storyboards/<int:storyboard_id>/", views.storyboard_detail, name="storyboard-detail"),
    path("storyboards/<int:storyboard_id>/panels/", views.panel_add, name="panel-add"),
    path(
        "storyboards/<int:storyboard_id>/generate-all/",
        views.storyboard_generate_all,
        name="generate-all",
    ),
    path("panels/<int:panel_id>/card/", views.panel_card, name="panel-card"),
    path("panels/<int:panel_id>/edit/", views.panel_edit, name="panel-edit"),
    path("panels/<int:panel_id>/move/", views.panel_move, name="panel-move"),
    path("panels/<int:panel_id>/generate/", views.panel_generate, name="panel-generate"),
    path("panels/<int:panel_id>/comments/", views.comment_add, name="comment-add"),
    path("takes/<int:take_id>/<str:action>/", views.take_action, name="take-action"),
    path("media/<path:name>", views.media, name="media"),
]
