"""Bearer tokens for scripts, sessions for browsers: one lookup shared by API, media and sockets."""

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from storyboards.models import ApiToken


def user_for_token(key: str | None):
    if not key or len(key) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # Once a minute is enough to tell a live token from a stale one; not a write per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def bearer_from_header(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def request_user(request):
    """The session user, else the bearer token's user, else anonymous."""
    if request.user.is_authenticated:
        return request.user
    user = user_for_token(bearer_from_header(request.headers.get("Authorization")))
    return user or AnonymousUser()


def locked_out(request, original_response=None, credentials=None):
    """Too many wrong passwords for this username from this address: say so, and when to retry
    (django-axes calls this; JSON for the API, a page for people)."""
    from django.conf import settings
    from django.http import JsonResponse
    from django.shortcuts import render

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = f"Too many wrong passwords. Try again in {minutes} minutes, or ask an owner."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
