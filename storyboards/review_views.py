"""Review pages: review mode's panel side, resolving threads, and the inbox. Thin, like views.py."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import presenters, selectors, services
from .views import _errors, _notice, _storyboard_page_context


@login_required
@require_GET
def storyboard_review(request, storyboard_id: int):
    """The board page, opened in review mode (a link others can follow to the same place)."""
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id
    )
    context = _storyboard_page_context(storyboard, membership) | {"review_open": True}
    return render(request, "storyboards/storyboard.html", context)


@login_required
@require_GET
def panel_review_side(request, panel_id: int):
    """Beside the frame in review mode: the panel's words, status, takes with pins, threads."""
    panel, membership = selectors.panel_get_for_member(user=request.user, panel_id=panel_id)
    return render(
        request, "storyboards/_review_side.html", presenters.review_side(panel, membership)
    )


@login_required
@require_POST
def comment_resolve(request, comment_id: int):
    comment, membership = selectors.comment_get_for_member(user=request.user, comment_id=comment_id)
    try:
        services.comment_set_resolved(
            comment=comment, membership=membership, by=request.user,
            resolved=request.POST.get("resolved", "1") == "1",
        )  # fmt: skip
    except ValidationError as e:
        return _notice(request, comment.panel_id, _errors(e))
    return render(request, "storyboards/_notice.html", {"message": ""})


@login_required
@require_GET
def inbox(request):
    items = selectors.inbox(user=request.user)
    unread = [n.id for n in items if n.read_at is None]
    response = render(request, "storyboards/inbox.html", {"items": items, "unread": set(unread)})
    services.notifications_mark_read(user=request.user, ids=unread)  # seen once shown
    return response


@login_required
@require_GET
def inbox_badge(request):
    return render(
        request,
        "storyboards/_inbox_badge.html",
        {"unread": selectors.unread_count(user=request.user)},
    )


@login_required
@require_POST
def inbox_read(request):
    services.notifications_mark_read(user=request.user)
    return redirect("inbox")
