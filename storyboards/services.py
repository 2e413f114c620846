"""Every change to projects, members, boards, panels and comments, and the event that tells.

Services validate (ValidationError: the caller answers 422), write in a transaction and publish.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.http import Http404

from studio.errors import Conflict
from studio.events import publish

from .models import ApiToken, Comment, Membership, Panel, Project, Role, Storyboard

User = get_user_model()

PANEL_FIELDS = (
    "prompt", "negative_prompt", "shot_type", "camera_move", "action", "dialogue", "notes",
    "duration_ms", "aspect_ratio",
)  # fmt: skip


def _check_text(field: str, text: str) -> None:
    if "\x00" in text:  # PostgreSQL cannot store it; refuse it everywhere alike
        raise ValidationError({field: "Text must not contain NUL characters."})
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({field: "Text must be valid Unicode."}) from None


def _check_prompt(field: str, text: str) -> None:
    _check_text(field, text)
    if len(text) > settings.SLATE_MAX_PROMPT:
        raise ValidationError(
            {field: f"Keep it under {settings.SLATE_MAX_PROMPT} characters (this is {len(text)})."}
        )


# --- accounts ---------------------------------------------------------------------------------


def token_issue(*, user) -> str:
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=ApiToken.hash(key))
    return key


@transaction.atomic
def token_revoke(*, user, token_id: int) -> None:
    """Revoke one of the user's own tokens (404 for anyone else's); its sockets close."""
    if not ApiToken.objects.filter(pk=token_id, user=user).delete()[0]:
        raise Http404
    user_access_changed(user=user)


@transaction.atomic
def account_credentials_changed(*, user) -> None:
    """A new password ends every token issued before it, and every socket opened with them or
    with an old session."""
    ApiToken.objects.filter(user=user).delete()
    user_access_changed(user=user)


# --- projects and members --------------------------------------------------------------------


@transaction.atomic
def project_create(*, user, name: str) -> Project:
    name = name.strip()
    _check_text("name", name)
    if not name:
        raise ValidationError({"name": "Give the project a name."})
    project = Project(name=name, created_by=user)
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})


@transaction.atomic
def member_add(*, project: Project, username: str, role: str) -> Membership:
    _check_role(role)
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": f"No account is called {username!r}."})
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict({"username": f"{username} is already a member."})
    return Membership.objects.create(project=project, user=user, role=role)


def _keep_an_owner(membership: Membership) -> None:
    Project.objects.select_for_update().get(pk=membership.project_id)  # owners change one at a time
    others = Membership.objects.filter(project=membership.project_id, role=Role.OWNER).exclude(
        pk=membership.pk
    )
    if membership.role == Role.OWNER and not others.exists():
        raise Conflict({"role": "A project needs at least one owner."})


@transaction.atomic
def member_set_role(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    if role != Role.OWNER:
        _keep_an_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    _tell_sockets_about(membership)
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    _keep_an_owner(membership)
    _tell_sockets_about(membership)
    membership.delete()


def _tell_sockets_about(membership: Membership) -> None:
    """Open sockets keep the role they connected with: make the person's sockets look again,
    so a removed member stops hearing the project at once."""
    _member_changed(Storyboard.objects.filter(project=membership.project_id), membership.user_id)


def user_access_changed(*, user) -> None:
    """The account's open sockets look again (and close if their account, session or token is no
    longer good): every board it could see."""
    _member_changed(Storyboard.objects.filter(project__memberships__user=user), user.pk)


def _member_changed(boards, user_id: int) -> None:
    for storyboard_id in boards.values_list("pk", flat=True):
        publish(storyboard_id, "member.changed", {"user": user_id})


# --- storyboards and panels ------------------------------------------------------------------


@transaction.atomic
def storyboard_create(*, project: Project, user, title: str) -> Storyboard:
    title = title.strip()
    _check_text("title", title)
    if not title:
        raise ValidationError({"title": "Give the storyboard a title."})
    storyboard = Storyboard(project=project, title=title, created_by=user)
    storyboard.full_clean()
    storyboard.save()
    return storyboard


def _clean_panel(panel: Panel) -> None:
    _check_prompt("prompt", panel.prompt)
    _check_prompt("negative_prompt", panel.negative_prompt)
    for field in ("action", "dialogue", "notes"):
        _check_text(field, getattr(panel, field))
    panel.full_clean(exclude=["storyboard", "created_by", "selected_take", "scene"])


@transaction.atomic
def panel_create(*, storyboard: Storyboard, user, **fields) -> Panel:
    # Lock the board: two panels added at once must not get the same position.
    Storyboard.objects.select_for_update().get(pk=storyboard.pk)
    last = storyboard.panels.aggregate(m=Max("position"))["m"]
    panel = Panel(storyboard=storyboard, created_by=user, position=0 if last is None else last + 1)
    for name in PANEL_FIELDS:
        if fields.get(name) is not None:
            setattr(panel, name, fields[name])
    _clean_panel(panel)
    panel.save()
    publish(storyboard.id, "panel.created", {"storyboard": storyboard.id, "panel": panel.id})
    return panel


@transaction.atomic
def panel_update(*, panel: Panel, **fields) -> Panel:
    changed = [name for name in PANEL_FIELDS if fields.get(name) is not None]
    for name in changed:
        setattr(panel, name, fields[name])
    if "selected_take" in fields:
        take_id = fields["selected_take"]
        take = None if take_id is None else panel.takes.filter(pk=take_id).first()
        if take_id is not None and (take is None or take.status != "succeeded"):
            raise ValidationError({"selected_take": "Pick a finished take of this panel."})
        panel.selected_take = take
        changed.append("selected_take")
    _clean_panel(panel)
    panel.save(update_fields=[*changed, "updated_at"])
    publish(
        panel.storyboard_id, "panel.updated", {"storyboard": panel.storyboard_id, "panel": panel.id}
    )
    return panel


@transaction.atomic
def panel_edit(*, panel: Panel, position: int | None = None, **fields) -> Panel:
    """Fields and position together: either both change or, on bad input, neither."""
    if fields:
        panel = panel_update(panel=panel, **fields)
    if position is not None:
        panel = panel_move(panel=panel, position=position)
    return panel


@transaction.atomic
def panel_move(*, panel: Panel, position: int) -> Panel:
    """Move a panel to `position` (0-based), shifting the ones in between."""
    Storyboard.objects.select_for_update().get(pk=panel.storyboard_id)  # one reorder at a time
    siblings = Panel.objects.filter(storyboard=panel.storyboard_id)
    count = siblings.count()
    if not 0 <= position < count:
        raise ValidationError({"position": f"Position must be between 0 and {count - 1}."})
    old = Panel.objects.get(pk=panel.pk).position
    if position < old:
        siblings.filter(position__gte=position, position__lt=old).update(position=F("position") + 1)
    elif position > old:
        siblings.filter(position__gt=old, position__lte=position).update(position=F("position") - 1)
    Panel.objects.filter(pk=panel.pk).update(position=position)
    panel.position = position
    publish(
        panel.storyboard_id,
        "panel.moved",
        {"storyboard": panel.storyboard_id, "panel": panel.id, "position": position},
    )
    return panel


# --- comments --------------------------------------------------------------------------------


@transaction.atomic
def comment_add(*, panel: Panel, author, body: str, take_id: int | None = None) -> Comment:
    body = body.strip()
    _check_text("body", body)
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > 10_000:
        raise ValidationError({"body": "Keep comments under 10,000 characters."})
    take = None
    if take_id is not None:
        take = panel.takes.filter(pk=take_id).first()
        if take is None:
            raise ValidationError({"take": "That take is not on this panel."})
    comment = Comment.objects.create(panel=panel, author=author, body=body, take=take)
    publish(
        panel.storyboard_id,
        "comment.created",
        {"storyboard": panel.storyboard_id, "panel": panel.id, "comment": comment.id},
    )
    return comment
