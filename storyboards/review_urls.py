from django.urls import path

from . import review_views as views

urlpatterns = [
    path(
        "storyboards/<id:storyboard_id>/review/", views.storyboard_review, name="storyboard-review"
    ),
    path("panels/<id:panel_id>/review/", views.panel_review_side, name="panel-review-side"),
    path("comments/<id:comment_id>/resolve/", views.comment_resolve, name="comment-resolve"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.inbox_badge, name="inbox-badge"),
    path("inbox/read/", views.inbox_read, name="inbox-read"),
]
