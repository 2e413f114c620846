"""Every change to projects, members, boards, panels and comments, and the event that tells.

Services validate (ValidationError: the caller answers 422), write in a transaction and publish.
"""

import logging
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from studio.errors import Conflict
from studio.events import publish, script_topic

from .models import (
    STATUS_ACTION,
    Action,
    ApiToken,
    AspectRatio,
    Comment,
    Membership,
    Notification,
    Panel,
    Project,
    ReviewStatus,
    Role,
    Script,
    StatusChange,
    Storyboard,
    StylePreset,
)
from .selectors import membership_get, require

User = get_user_model()
log = logging.getLogger(__name__)

TEXT_LIMIT = 4000  # action, dialogue and notes: a long scene beat, not a whole script
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
            {field: f"Use at most {settings.SLATE_MAX_PROMPT} characters (this is {len(text)})."}
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
    _member_changed(Storyboard.objects.filter(project=membership.project_id), membership.user_id,
                    Script.objects.filter(project=membership.project_id))  # fmt: skip


def user_access_changed(*, user) -> None:
    """The account's open sockets look again (and close if their account, session or token is no
    longer good): every board it could see."""
    _member_changed(Storyboard.objects.filter(project__memberships__user=user), user.pk,
                    Script.objects.filter(project__memberships__user=user))  # fmt: skip


def _member_changed(boards, user_id: int, scripts) -> None:
    """Boards' and scripts' sockets alike (a script's page listens on its own topic)."""
    for storyboard_id in boards.values_list("pk", flat=True):
        publish(storyboard_id, "member.changed", {"user": user_id})
    for script_id in scripts.values_list("pk", flat=True):
        publish(script_topic(script_id), "member.changed", {"user": user_id})


# --- storyboards and panels ------------------------------------------------------------------


@transaction.atomic
def storyboard_create(
    *, project: Project, user, title: str, aspect_ratio: str | None = None
) -> Storyboard:
    title = title.strip()
    _check_text("title", title)
    if not title:
        raise ValidationError({"title": "Give the storyboard a title."})
    storyboard = Storyboard(project=project, title=title, created_by=user)
    if aspect_ratio is not None:
        storyboard.aspect_ratio = aspect_ratio  # full_clean refuses one that is not a choice
    storyboard.full_clean()
    storyboard.save()
    return storyboard


def _clean_panel(panel: Panel) -> None:
    _check_prompt("prompt", panel.prompt)
    _check_prompt("negative_prompt", panel.negative_prompt)
    for field in ("action", "dialogue", "notes"):
        text = getattr(panel, field)
        _check_text(field, text)
        if len(text) > TEXT_LIMIT:
            raise ValidationError(
                {field: f"Use at most {TEXT_LIMIT} characters (this is {len(text)})."}
            )
    panel.full_clean(exclude=["storyboard", "created_by", "selected_take", "scene"])


UNCHANGED = object()  # "leave it as it is", where None means something (no selected take)


def _given(**values) -> dict:
    return {name: value for name, value in values.items() if value is not None}


def _lock_board(storyboard_id: int) -> int:
    """One change of order at a time per board; returns how many panels it shows."""
    Storyboard.objects.select_for_update().get(pk=storyboard_id)
    return Panel.objects.filter(storyboard=storyboard_id).count()


def _open_gap(storyboard_id: int, position: int) -> None:
    Panel.objects.filter(storyboard=storyboard_id, position__gte=position).update(
        position=F("position") + 1
    )


@transaction.atomic
def panel_create(
    *, storyboard: Storyboard, user, position: int | None = None, prompt: str | None = None,
    negative_prompt: str | None = None, shot_type: str | None = None,
    camera_move: str | None = None, action: str | None = None, dialogue: str | None = None,
    notes: str | None = None, duration_ms: int | None = None, aspect_ratio: str | None = None,
) -> Panel:  # fmt: skip
    """A new panel at the end, or inserted at `position` (0-based) with the later ones shifted.
    It takes the board's aspect ratio unless told otherwise. Fields left None keep defaults."""
    fields = _given(
        prompt=prompt, negative_prompt=negative_prompt, shot_type=shot_type,
        camera_move=camera_move, action=action, dialogue=dialogue, notes=notes,
        duration_ms=duration_ms, aspect_ratio=aspect_ratio,
    )  # fmt: skip
    count = _lock_board(storyboard.pk)
    if position is None:
        position = count
    elif not 0 <= position <= count:
        raise ValidationError({"position": f"Position must be between 0 and {count}."})
    panel = Panel(storyboard=storyboard, created_by=user, position=position,
                  aspect_ratio=storyboard.aspect_ratio)  # fmt: skip
    for name, value in fields.items():
        setattr(panel, name, value)
    _clean_panel(panel)
    _open_gap(storyboard.pk, position)
    panel.save()
    publish(storyboard.id, "panel.created", {"storyboard": storyboard.id, "panel": panel.id})
    return panel


@transaction.atomic
def panel_duplicate(*, panel: Panel, user) -> Panel:
    """A copy right after the panel, with its fields and its picture: the selected take is
    copied as a finished take of the new panel (same files, `parent` the original take)."""
    from generation.services import take_copy  # generation builds on panels, not the reverse

    # Where it stands now, under the board's lock: an insert ahead of it may have moved it.
    _lock_board(panel.storyboard_id)
    position = Panel.objects.filter(pk=panel.pk).values_list("position", flat=True).first()
    if position is None:
        raise Conflict({"panel": "This panel was deleted meanwhile."})
    copy = panel_create(
        storyboard=panel.storyboard, user=user, position=position + 1,
        **{name: getattr(panel, name) for name in PANEL_FIELDS},
    )  # fmt: skip
    if panel.selected_take_id:
        copy.selected_take = take_copy(take=panel.selected_take, panel=copy, author=user)
        copy.save(update_fields=["selected_take"])
    return copy


@transaction.atomic
def panel_delete(*, panel: Panel, by) -> Panel:
    """The panel leaves the board; it stays in the database with its takes and comments, and
    `position` keeps where it stood, for `panel_restore`."""
    _lock_board(panel.storyboard_id)
    # Read again under the lock: the panel may have moved, or been deleted by a second click
    # (closing the gap twice would give two panels one position).
    current = Panel.objects.filter(pk=panel.pk).values_list("position", flat=True).first()
    if current is None:
        raise Conflict({"panel": "This panel was deleted already."})
    panel.position = current
    Panel.objects.filter(storyboard=panel.storyboard_id, position__gt=panel.position).update(
        position=F("position") - 1
    )
    panel.deleted_at, panel.deleted_by = timezone.now(), by
    panel.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    publish(panel.storyboard_id, "panel.deleted",
            {"storyboard": panel.storyboard_id, "panel": panel.id})  # fmt: skip
    return panel


@transaction.atomic
def panel_restore(*, panel: Panel) -> Panel:
    """Undo a delete: the panel comes back where it stood (or last, if the board got shorter)."""
    count = _lock_board(panel.storyboard_id)
    panel = Panel.all_objects.select_for_update().get(pk=panel.pk)
    if panel.deleted_at is None:
        raise Conflict({"panel": "This panel is on the board already."})
    panel.position = min(panel.position, count)
    _open_gap(panel.storyboard_id, panel.position)
    panel.deleted_at, panel.deleted_by = None, None
    panel.save(update_fields=["position", "deleted_at", "deleted_by", "updated_at"])
    publish(panel.storyboard_id, "panel.restored",
            {"storyboard": panel.storyboard_id, "panel": panel.id})  # fmt: skip
    return panel


@transaction.atomic
def panel_update(
    *, panel: Panel, prompt: str | None = None, negative_prompt: str | None = None,
    shot_type: str | None = None, camera_move: str | None = None, action: str | None = None,
    dialogue: str | None = None, notes: str | None = None, duration_ms: int | None = None,
    aspect_ratio: str | None = None, selected_take: int | None | object = UNCHANGED,
    style_preset: int | None | object = UNCHANGED,
) -> Panel:  # fmt: skip
    """Change the fields given (None: unchanged) and, if given, the selected take (None: none)
    and the style override (None: the board's style).
    Keyword-only and typed: a misspelled field is a TypeError, never silently dropped."""
    fields = _given(
        prompt=prompt, negative_prompt=negative_prompt, shot_type=shot_type,
        camera_move=camera_move, action=action, dialogue=dialogue, notes=notes,
        duration_ms=duration_ms, aspect_ratio=aspect_ratio,
    )  # fmt: skip
    changed = list(fields)
    for name, value in fields.items():
        setattr(panel, name, value)
    if selected_take is not UNCHANGED:
        take_id = selected_take
        take = None if take_id is None else panel.takes.filter(pk=take_id).first()
        if take_id is not None and (take is None or take.status != "succeeded"):
            raise ValidationError({"selected_take": "Pick a finished take of this panel."})
        panel.selected_take = take
        changed.append("selected_take")
    if style_preset is not UNCHANGED:
        panel.style_preset = _preset_of(panel.storyboard.project_id, style_preset)
        changed.append("style_preset")
    _clean_panel(panel)
    panel.save(update_fields=[*changed, "updated_at"])
    publish(
        panel.storyboard_id, "panel.updated", {"storyboard": panel.storyboard_id, "panel": panel.id}
    )
    return panel


@transaction.atomic
def panel_set_status(*, panel: Panel, membership: Membership, status: str) -> Panel:
    """Draft -> in review -> changes requested -> approved. Editors ask for review (or take a
    panel back to draft); only directors and owners request changes or approve (403).
    Every decision is kept as a StatusChange."""
    if status not in ReviewStatus.values:
        raise ValidationError(
            {"status": f"Status must be one of {', '.join(ReviewStatus.values)}."}
        )
    require(membership, STATUS_ACTION[status])
    panel = Panel.objects.select_for_update().get(pk=panel.pk)
    if panel.status == status:
        return panel
    if panel.status == ReviewStatus.APPROVED and not membership.may(Action.SUPERVISE):
        # An approval is a director's decision: only a director or an owner takes it back.
        raise PermissionDenied(
            "Only directors and owners reopen an approved panel; you are a "
            f"{membership.get_role_display().lower()} here."
        )
    StatusChange.objects.create(panel=panel, status=status, previous=panel.status,
                                by=membership.user)  # fmt: skip
    panel.status = status
    panel.save(update_fields=["status", "updated_at"])
    publish(panel.storyboard_id, "panel.updated", {"panel": panel.id})
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
    count = _lock_board(panel.storyboard_id)
    siblings = Panel.objects.filter(storyboard=panel.storyboard_id)
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


RECALLED_FIELDS = ("prompt", "negative_prompt", "shot_type", "camera_move")


@transaction.atomic
def panel_recall(*, panel: Panel, take, membership: Membership) -> Panel:
    """Put back on the panel what it said when `take` was made: its prompt, negative prompt,
    shot type and camera move, so the prompt as sent composes the same again. The take's model,
    seed, steps and the rest have no panel field: they go back to the Generate form
    (presenters.recall_settings). Takes never change. Publishes `panel.updated`, like an edit."""
    require(membership, Action.EDIT)
    if take.panel_id != panel.id:
        raise Http404
    # No select_related here: PostgreSQL cannot lock the nullable side of an outer join.
    panel = Panel.objects.select_for_update().filter(pk=panel.pk).first()
    if panel is None:
        raise Http404
    return panel_update(panel=panel, **_recalled_fields(panel, take))


def _recalled_fields(panel: Panel, take) -> dict:
    from .models import CameraMove, ShotType

    parts = {part["source"]: part for part in take.prompt_parts}
    if not parts:  # made before prompts were composed: the prompt was the panel's own
        return {"prompt": take.prompt, "negative_prompt": take.negative_prompt}
    shots = {f"Shot type: {label}": value for value, label in ShotType.choices}
    moves = {f"Camera: {label}": value for value, label in CameraMove.choices}
    # Composing adds the style's negative prompt to the panel's: take it off again, or the
    # next take would carry it twice.
    style = panel.style_preset if panel.style_preset_id else panel.storyboard.style_preset
    added = " ".join(style.negative_prompt.split()).rstrip(" ,;:.") if style else ""
    negative = take.negative_prompt
    if added and (negative == added or negative.endswith(", " + added)):
        negative = negative.removesuffix(added).removesuffix(", ")
    return {
        "prompt": parts["prompt"]["text"] if "prompt" in parts else take.prompt,
        "negative_prompt": negative,
        "shot_type": shots.get(parts.get("shot", {}).get("label"), ShotType.UNSET),
        "camera_move": moves.get(parts.get("camera", {}).get("label"), CameraMove.STATIC),
    }


# --- renaming and deleting boards and projects -----------------------------------------------

NAME_LIMIT = 200  # Project.name and Storyboard.title


def _check_name(field: str, text: str, missing: str) -> str:
    text = text.strip()
    _check_text(field, text)
    if not text:
        raise ValidationError({field: missing})
    if len(text) > NAME_LIMIT:
        raise ValidationError(
            {field: f"Keep it to {NAME_LIMIT} characters or fewer (this is {len(text)})."}
        )
    return text


def _preset_of(project_id: int, preset_id: int | None):
    """A style preset of this project (None: no preset), else a clear error."""
    if preset_id is None:
        return None
    preset = StylePreset.objects.filter(pk=preset_id, project_id=project_id).first()
    if preset is None:
        raise ValidationError({"style_preset": "Pick a style of this project."})
    return preset


@transaction.atomic
def storyboard_update(
    *, storyboard: Storyboard, title: str | None = None, aspect_ratio: str | None = None,
    apply_to_panels: bool = False, style_preset: int | None | object = UNCHANGED,
) -> Storyboard:  # fmt: skip
    """Rename the board or change the frame shape new panels get. `apply_to_panels` reframes
    every panel on the board to it as well (deleted panels keep theirs, as they were)."""
    if title is not None:
        title = _check_name("title", title, "Give the storyboard a title.")
    if aspect_ratio is not None and aspect_ratio not in AspectRatio.values:
        raise ValidationError(
            {"aspect_ratio": f"Aspect ratio must be one of {', '.join(AspectRatio.values)}."}
        )
    # The board's lock: a panel added meanwhile is either reframed here or takes the new shape.
    Storyboard.objects.select_for_update().get(pk=storyboard.pk)
    storyboard.refresh_from_db(fields=["title", "aspect_ratio", "style_preset"])
    wanted = {"title": title, "aspect_ratio": aspect_ratio}
    changed = [f for f, v in wanted.items() if v is not None and v != getattr(storyboard, f)]
    for field in changed:
        setattr(storyboard, field, wanted[field])
    if style_preset is not UNCHANGED:
        storyboard.style_preset = _preset_of(storyboard.project_id, style_preset)
        changed.append("style_preset")
    if changed:
        storyboard.save(update_fields=changed)
        publish(storyboard.id, "storyboard.updated", {"storyboard": storyboard.id})
    if apply_to_panels:
        reframed = list(
            Panel.objects.filter(storyboard=storyboard.pk)
            .exclude(aspect_ratio=storyboard.aspect_ratio)
            .values_list("pk", flat=True)
        )
        Panel.objects.filter(pk__in=reframed).update(
            aspect_ratio=storyboard.aspect_ratio, updated_at=timezone.now()
        )
        for panel_id in reframed:
            publish(
                storyboard.id, "panel.updated", {"storyboard": storyboard.id, "panel": panel_id}
            )
    return storyboard


@transaction.atomic
def storyboard_delete(*, storyboard: Storyboard, by) -> None:
    """The board goes with its panels (deleted ones too), takes and comments; its takes' files
    go once that commits. Directors and owners only.

    Its waiting takes need no cancelling: a worker claims only rows still queued, and a running
    one finds its claim gone at its next heartbeat and stops at the next step, exactly as for a
    take the reconciler took back (generation/services.takes_heartbeat, _finish)."""
    require(membership_get(user=by, project_id=storyboard.project_id), Action.SUPERVISE)
    _boards_leaving([storyboard.pk])
    storyboard.delete()


@transaction.atomic
def project_update(*, project: Project, name: str) -> Project:
    """Rename a project (owners). No live event: its name shows on a board only in the page's
    breadcrumb, outside every live region; open boards show it at their next load."""
    project.name = _check_name("name", name, "Give the project a name.")
    project.save(update_fields=["name"])
    return project


@transaction.atomic
def project_delete(*, project: Project, by) -> None:
    """The project goes with everything in it: storyboards, panels, takes, comments, scripts,
    memberships; its takes' files go once that commits. Owners only."""
    require(membership_get(user=by, project_id=project.pk), Action.MANAGE)
    _boards_leaving(list(project.storyboards.values_list("pk", flat=True)))
    project.delete()


def _boards_leaving(storyboard_ids: list[int]) -> None:
    """Before the rows go: tell open pages, remove the takes' files after the commit, and move
    everyone else's waiting takes up in the queue."""
    from generation.models import ACTIVE, Take  # generation builds on boards, not the reverse
    from generation.services import queue_publish

    for storyboard_id in storyboard_ids:
        publish(storyboard_id, "storyboard.deleted", {"storyboard": storyboard_id})
    takes = Take.objects.filter(panel__storyboard__in=storyboard_ids)
    _delete_files_after_commit(takes)
    if takes.filter(status__in=ACTIVE).exists():
        queue_publish()


def _delete_files_after_commit(takes) -> None:
    """The owner asked for these takes to be gone, pictures included. Removed only once the
    deletion commits (a rollback keeps them), and never a file a surviving take still names."""
    from generation.models import Take

    names = {name for row in takes.values_list("image", "video", "mask") for name in row if name}

    def remove():
        listed, kept = sorted(names), set()
        for i in range(0, len(listed), 300):  # bounded IN lists, for SQLite's variable limit
            chunk = listed[i : i + 300]
            naming = (
                Take.objects.filter(image__in=chunk)
                | Take.objects.filter(video__in=chunk)
                | Take.objects.filter(mask__in=chunk)
            )
            kept |= {name for row in naming.values_list("image", "video", "mask") for name in row}
        for name in names - kept:
            try:
                default_storage.delete(name)
            except Exception:  # the rows are gone either way; a leftover file is only disk
                log.warning("could not delete %s", name, exc_info=True)

    if names:
        transaction.on_commit(remove)


# --- comments --------------------------------------------------------------------------------


MENTION = re.compile(r"(?<![\w@])@([\w.+-]*[\w+])")  # @anna, not mail@anna.com; no trailing dot


@transaction.atomic
def comment_add(
    *, panel: Panel, author, body: str, take_id: int | None = None,
    reply_to_id: int | None = None, pin: dict | None = None,
) -> Comment:  # fmt: skip
    """A comment on the take the panel shows now (or the one named), perhaps answering a thread
    or pinned on the frame. Mentioned members and the thread's people find it in their inbox."""
    body = body.strip()
    _check_text("body", body)
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > 10_000:
        raise ValidationError({"body": "Use at most 10,000 characters in a comment."})
    root = _thread_root(panel, reply_to_id)
    take = _comment_take(panel, take_id, root)
    box = _check_pin(pin, take, root)
    comment = Comment.objects.create(
        panel=panel, author=author, body=body, take=take, reply_to=root, **box
    )
    mentioned = _mentioned_members(panel, body)
    comment.mentions.set(mentioned)
    _notify(comment, mentioned)
    publish(
        panel.storyboard_id,
        "comment.created",
        {"storyboard": panel.storyboard_id, "panel": panel.id, "comment": comment.id},
    )
    return comment


def _thread_root(panel: Panel, reply_to_id: int | None) -> Comment | None:
    if reply_to_id is None:
        return None
    parent = panel.comments.filter(pk=reply_to_id).first()
    if parent is None:
        raise ValidationError({"reply_to": "That comment is not on this panel."})
    # One level of threads, as people read them: answering an answer joins the same thread.
    return parent.reply_to if parent.reply_to_id else parent


def _comment_take(panel: Panel, take_id: int | None, root: Comment | None):
    """The take a comment is about: the one named, else its thread's, else what the panel shows."""
    if take_id is not None:
        take = panel.takes.filter(pk=take_id).first()
        if take is None:
            raise ValidationError({"take": "That take is not on this panel."})
        return take
    if root is not None:
        return root.take
    return panel.selected_take


def _check_pin(pin: dict | None, take, root: Comment | None) -> dict:
    """A point (x, y) or a rectangle (x, y, w, h) on the frame, each 0..1 of its width/height."""
    if not pin:
        return {}
    if root is not None:
        raise ValidationError({"pin": "Pin a new comment on the frame; a reply joins its thread."})
    if take is None or not take.image:
        raise ValidationError({"pin": "There is no frame to pin on yet: generate a take first."})
    unknown = set(pin) - {"x", "y", "w", "h"}
    if unknown:
        raise ValidationError(
            {"pin": f"A pin has x, y and optionally w, h; not {sorted(unknown)}."}
        )
    try:
        box = {k: float(pin[k]) for k in ("x", "y", "w", "h") if pin.get(k) is not None}
    except (TypeError, ValueError):
        raise ValidationError({"pin": "Pin coordinates are numbers from 0 to 1."}) from None
    if "x" not in box or "y" not in box:
        raise ValidationError({"pin": "A pin needs both x and y."})
    if ("w" in box) != ("h" in box):
        raise ValidationError({"pin": "A pinned area needs both w and h."})
    if not all(0 <= v <= 1 for v in box.values()):  # NaN fails this too
        raise ValidationError({"pin": "Pin coordinates are fractions of the frame, 0 to 1."})
    if "w" in box and (box["w"] <= 0 or box["h"] <= 0 or box["x"] + box["w"] > 1 + 1e-6
                       or box["y"] + box["h"] > 1 + 1e-6):  # fmt: skip
        raise ValidationError({"pin": "A pinned area must have a size and stay inside the frame."})
    return {f"pin_{k}": round(v, 5) for k, v in box.items()}


def _mentioned_members(panel: Panel, body: str) -> list:
    names = {name.lower() for name in MENTION.findall(body)}
    if not names:
        return []
    members = User.objects.filter(
        memberships__project_id=panel.storyboard.project_id, is_active=True
    )
    return [user for user in members if user.username.lower() in names]


def _notify(comment: Comment, mentioned: list) -> None:
    """Mentioned members, and on a reply everyone already in the thread; never the author."""
    kinds = {user.pk: Notification.Kind.MENTION for user in mentioned}
    if comment.reply_to_id:
        thread = Comment.objects.filter(Q(pk=comment.reply_to_id) | Q(reply_to=comment.reply_to_id))
        for user_id in thread.values_list("author", flat=True).distinct():
            kinds.setdefault(user_id, Notification.Kind.REPLY)
        # Only people who can still see the thread.
        members = set(
            Membership.objects.filter(
                project_id=comment.panel.storyboard.project_id, user__in=list(kinds)
            ).values_list("user", flat=True)
        )
        kinds = {user: kind for user, kind in kinds.items() if user in members}
    kinds.pop(comment.author_id, None)
    Notification.objects.bulk_create(
        [Notification(user_id=u, kind=k, comment=comment, actor_id=comment.author_id)
         for u, k in kinds.items()],
        ignore_conflicts=True,
    )  # fmt: skip


@transaction.atomic
def comment_set_resolved(
    *, comment: Comment, membership: Membership, resolved: bool, by
) -> Comment:
    """Resolve or reopen a whole thread. Its author may, and anyone who edits the board."""
    root = comment.reply_to if comment.reply_to_id else comment
    if root.author_id != by.pk and not membership.may(Action.EDIT):
        raise PermissionDenied(
            f"Only the thread's author or an editor may {'resolve' if resolved else 'reopen'} it; "
            f"you are a {membership.get_role_display().lower()} here."
        )
    root = Comment.objects.select_for_update().get(pk=root.pk)
    if resolved == (root.resolved_at is not None):
        return root  # already so: nothing to tell
    root.resolved_at, root.resolved_by = (timezone.now(), by) if resolved else (None, None)
    root.save(update_fields=["resolved_at", "resolved_by"])
    publish(
        root.panel.storyboard_id,
        "comment.updated",
        {"storyboard": root.panel.storyboard_id, "panel": root.panel_id, "comment": root.id},
    )
    return root


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Read what the inbox shows (`ids`), or everything; returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
