"""Pages. Thin: a selector checks access, a service changes things, a template shows them.

htmx posts get partials back: the very fragments the live events bring everybody else
(storyboards/presenters.py), so applying both changes nothing.
"""

import hashlib
import json
import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation import services as takes
from generation.models import Take
from generation.registry import default_model
from generation.selectors import gpu_seconds_for_project, take_get_for_member
from studio.auth import request_user
from studio.errors import Conflict, TooMany
from studio.events import current_sequence

from . import presenters, scripts, selectors, services
from .models import Action, AspectRatio, CameraMove, Character, Location, Role, ShotType


def _errors(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(m for messages in error.message_dict.values() for m in messages)
    return " ".join(error.messages)


def _status(error: ValidationError) -> int:
    return 429 if isinstance(error, TooMany) else 409 if isinstance(error, Conflict) else 422


def _notice(request, panel_id: int | None, message: str, status: int = 422) -> HttpResponse:
    """A refusal shown where the person is looking: the inspector, the panel, else the board
    (escaped)."""
    response = render(request, "storyboards/_notice.html", {"message": message}, status=status)
    if request.headers.get("X-Slate-Where") == "inspector":
        response["HX-Retarget"] = "#inspector-notice"
    else:
        response["HX-Retarget"] = f"#panel-{panel_id}-notice" if panel_id else "#board-notice"
    response["HX-Reswap"] = "innerHTML"
    return response


# --- accounts ------------------------------------------------------------------------------


def signup(request):
    if not settings.SLATE_SIGNUP_ENABLED:
        raise Http404
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("project-list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account_tokens(request):
    """The person's API tokens: make one (shown once), see when each was last used, revoke."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "create":
            new_key = services.token_issue(user=request.user)
        else:
            token_id = request.POST.get("token", "")
            if not (token_id.isascii() and token_id.isdigit() and len(token_id) <= 18):
                raise Http404
            services.token_revoke(user=request.user, token_id=int(token_id))
            return redirect("account-tokens")
    tokens = request.user.api_tokens.order_by("-created_at", "-id")
    return render(request, "storyboards/tokens.html", {"tokens": tokens, "new_key": new_key})


# --- projects ------------------------------------------------------------------------------


@login_required
def project_list(request):
    error = None
    if request.method == "POST":
        try:
            project = services.project_create(user=request.user, name=request.POST.get("name", ""))
            return redirect("project-detail", project_id=project.id)
        except ValidationError as e:
            error = _errors(e)
    projects = selectors.projects_for_user(user=request.user)
    return render(request, "storyboards/project_list.html", {"projects": projects, "error": error})


@login_required
def project_detail(request, project_id: int):
    project, membership = selectors.project_get_for_member(user=request.user, project_id=project_id)
    error = None
    if request.method == "POST":
        selectors.require(membership, Action.EDIT)
        try:
            board = services.storyboard_create(
                project=project, user=request.user, title=request.POST.get("title", "")
            )
            return redirect("storyboard-detail", storyboard_id=board.id)
        except ValidationError as e:
            error = _errors(e)
    context = {
        "project": project, "membership": membership, "error": error,
        "storyboards": selectors.storyboards_with_sizes(project=project),
        "members": project.memberships.select_related("user").order_by("created_at"),
        "roles": Role.choices, "gpu": gpu_seconds_for_project(project_id=project.id),
    }  # fmt: skip
    return render(request, "storyboards/project_detail.html", context)


@login_required
@require_POST
def member_change(request, project_id: int):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    action = request.POST.get("action")
    try:
        if action == "add":
            services.member_add(project=project, username=request.POST.get("username", "").strip(),
                                role=request.POST.get("role", ""))  # fmt: skip
        else:
            member_id = request.POST.get("member", "")
            target = (
                project.memberships.filter(pk=int(member_id)).first()
                if member_id.isascii() and member_id.isdigit() and len(member_id) <= 18
                else None
            )
            if target is None:
                raise Http404
            if action == "remove":
                services.member_remove(membership=target)
            else:
                services.member_set_role(membership=target, role=request.POST.get("role", ""))
    except ValidationError as e:
        from django.contrib import messages

        messages.error(request, _errors(e))
    return redirect("project-detail", project_id=project.id)


# --- storyboard page -------------------------------------------------------------------------


def _storyboard_page_context(storyboard, membership) -> dict:
    return {
        "storyboard": storyboard, "project": storyboard.project, "membership": membership,
        # Read before the panels: events after this number are applied on top (idempotent).
        "seq": current_sequence(storyboard.id),
        "cards": presenters.storyboard_cards(storyboard, can_edit=membership.can_edit),
        "head": presenters.board_head(storyboard), "text_limit": services.TEXT_LIMIT,
        "bulk": presenters.bulk_card(storyboard.id, can_edit=membership.can_edit),
        "shot_types": ShotType.choices, "camera_moves": CameraMove.choices,
        "aspect_ratios": AspectRatio.choices, "noise_model": default_model().key == "tiny",
        "members_json": json.dumps(selectors.member_names(project=storyboard.project)),
    }  # fmt: skip


@login_required
@require_GET
def storyboard_detail(request, storyboard_id: int):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id
    )
    return render(
        request, "storyboards/storyboard.html", _storyboard_page_context(storyboard, membership)
    )


@login_required
@require_GET
def panel_card(request, panel_id: int):
    """One card, as the board shows it."""
    panel, membership = selectors.panel_get_for_member(user=request.user, panel_id=panel_id)
    return _render_card_region(request, panel.id, membership, "storyboards/_panel.html")


@login_required
@require_GET
def panel_inspector(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(user=request.user, panel_id=panel_id)
    context = presenters.inspector(panel, membership)
    return render(request, "storyboards/_inspector.html", context)


def _panel_fields(post) -> dict:
    # The form sends seconds; every other panel field arrives as the service names it.
    fields = {
        name: post[name] for name in services.PANEL_FIELDS if name in post and name != "duration_ms"
    }
    if "style_preset" in post:
        fields["style_preset"] = _preset_id(post["style_preset"])
    if post.get("duration_s"):
        try:
            fields["duration_ms"] = round(float(post["duration_s"]) * 1000)
        except (ValueError, OverflowError):
            raise ValidationError({"duration_ms": "Duration is a number of seconds."}) from None
    return fields


def _render_card_region(request, panel_id, membership, template, **extra):
    """Answer an htmx action with the same fragment the live event brings everybody else."""
    panel = selectors.panel_for_card(panel_id=panel_id)
    card = presenters.panel_card(panel, can_edit=membership.can_edit)
    return render(request, template, {"card": card, **extra})


def _placed(request, panel, membership, *, moved: bool):
    ids = selectors.panel_order(storyboard_ids=[panel.storyboard_id])[panel.storyboard_id]
    at = ids.index(panel.id)
    following = ids[at + 1] if at + 1 < len(ids) else None
    return _render_card_region(request, panel.id, membership, "storyboards/_panel_placed.html",
                               following=following, moved=moved)  # fmt: skip


def _added(request, panel, membership):
    """A new card in its place; the page then focuses it (`panel-added`)."""
    response = _placed(request, panel, membership, moved=False)
    response["HX-Trigger"] = json.dumps({"panel-added": {"panel": panel.id}})
    return response


def _insert_position(storyboard, post) -> int | None:
    """`before` or `after` a panel of this board (by id), else `position`, else the end."""
    for key, offset in (("before", 0), ("after", 1)):
        if post.get(key):
            value = post[key]
            other = (
                storyboard.panels.filter(pk=int(value)).first()
                if value.isascii() and value.isdigit() and len(value) <= 18
                else None
            )
            if other is None:
                raise ValidationError({key: "That panel is not on this storyboard."})
            return other.position + offset
    if post.get("position"):
        try:
            return int(post["position"])
        except ValueError:
            raise ValidationError({"position": "Position is a number."}) from None
    return None


@login_required
@require_POST
def panel_add(request, storyboard_id: int):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    try:
        fields = _panel_fields(request.POST)
        if fields.get("action") and not fields.get("prompt"):
            fields["prompt"] = fields["action"][: settings.SLATE_MAX_PROMPT]  # a first draft
        panel = services.panel_create(
            storyboard=storyboard, user=request.user,
            position=_insert_position(storyboard, request.POST), **fields,
        )  # fmt: skip
    except ValidationError as e:
        return _notice(request, None, _errors(e))
    return _added(request, panel, membership)


@login_required
@require_POST
def panel_duplicate(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:  # a panel written before the text limits cannot be copied as it is
        copy = services.panel_duplicate(panel=panel, user=request.user)
    except ValidationError as e:
        return _notice(request, panel.id, _errors(e), status=_status(e))
    return _added(request, copy, membership)


@login_required
@require_POST
def panel_delete(request, panel_id: int):
    """The card goes (here and live everywhere); the answer offers undo to the one who did it."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:
        services.panel_delete(panel=panel, by=request.user)
    except ValidationError as e:  # deleted meanwhile, by another click
        return _notice(request, panel.id, _errors(e), status=_status(e))
    return render(request, "storyboards/_panel_deleted.html", {"panel": panel})


@login_required
@require_POST
def panel_restore(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, deleted=True, action=Action.EDIT
    )
    try:
        panel = services.panel_restore(panel=panel)
    except ValidationError as e:  # restored meanwhile, by another click
        return _notice(request, None, _errors(e), status=_status(e))
    return _placed(request, panel, membership, moved=False)


@login_required
@require_POST
def panel_resync(request, panel_id: int):
    """The panel takes the script's current text (its frame, takes and notes stay)."""
    return _script_decision(request, panel_id, scripts.panel_resync)


@login_required
@require_POST
def panel_keep(request, panel_id: int):
    """The panel stays as it is; a removed one lets go of the script."""
    return _script_decision(request, panel_id, scripts.panel_keep)


@login_required
@require_POST
def panel_status(request, panel_id: int):
    """Ask for review, request changes, approve (the last two: directors and owners)."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:
        panel = services.panel_set_status(
            panel=panel, membership=membership, status=request.POST.get("status", "")
        )
    except ValidationError as e:
        return _notice(request, panel.id, _errors(e), status=_status(e))
    context = {"review": presenters.review_actions(panel, membership)}
    return render(request, "storyboards/_panel_review.html", context)


def _script_decision(request, panel_id: int, decide):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:
        panel = decide(panel=panel)
    except ValidationError as e:  # decided meanwhile by someone else
        return _notice(request, panel.id, _errors(e), status=_status(e))
    link = presenters.script_link(panel)
    return render(request, "storyboards/_panel_script.html", {"link": link, "panel": panel,
                                                               "can_edit": membership.can_edit})  # fmt: skip


@login_required
@require_POST
def panel_edit(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:
        services.panel_update(panel=panel, **_panel_fields(request.POST))
    except ValidationError as e:
        return _notice(request, panel.id, _errors(e))
    # The card's meta swaps out of band, as the live event swaps it on every other page.
    response = _render_card_region(
        request, panel.id, membership, "storyboards/_panel_meta.html", oob=True
    )
    response["HX-Trigger"] = "panel-saved"
    return response


@login_required
@require_POST
def panel_move(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    try:
        position = int(request.POST.get("position", ""))
        services.panel_move(panel=panel, position=position)
    except (ValueError, ValidationError):
        return _notice(request, panel.id, "That position is outside the storyboard.")
    return _placed(request, panel, membership, moved=True)


def _take_options(post) -> dict:
    """Form fields to take_request options; blanks mean 'use the model's default'."""
    options = {"tool": post.get("tool", "text2image"), "model": post.get("model") or None,
               "mask": post.get("mask") or None}  # fmt: skip
    numbers = {"seed": int, "steps": int, "width": int, "height": int, "guidance": float,
               "strength": float, "parent_take": int, "scale": int, "num_frames": int, "fps": int}  # fmt: skip
    for name, kind in numbers.items():
        if post.get(name, "").strip():
            try:
                options[name] = kind(post[name])
            except ValueError:
                raise ValidationError({name: f"{name} must be a number."}) from None
    return options


@login_required
@require_POST
def panel_generate(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.GENERATE
    )
    try:
        takes.take_request(panel=panel, author=request.user, **_take_options(request.POST))
    except ValidationError as e:
        return _notice(request, panel.id, _errors(e), status=_status(e))
    return _render_card_region(request, panel.id, membership, "storyboards/_panel_frame.html")


@login_required
@require_POST
def storyboard_generate_all(request, storyboard_id: int):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.GENERATE
    )
    try:
        queued = takes.storyboard_generate_all(storyboard=storyboard, author=request.user)
    except ValidationError as e:
        return _notice(request, None, _errors(e), status=_status(e))
    return HttpResponse(
        f"{len(queued)} panels queued."
        if queued
        else "Every panel with a prompt is already on its way."
    )


@login_required
@require_POST
def storyboard_cancel_all(request, storyboard_id: int):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    takes.storyboard_cancel_bulk(storyboard=storyboard, by=request.user, membership=membership)
    # No fragment: the button lives inside the region its own events replace, so htmx would
    # look for the answer's target inside the detached old copy. The live event brings it.
    return HttpResponse(status=204)


@login_required
@require_POST
def take_action(request, take_id: int, action: str):
    # Each button's right and service call; an unknown action is a 404 before any lookup.
    rights = {"select": Action.EDIT, "cancel": Action.EDIT, "retry": Action.GENERATE,
              "recall": Action.EDIT}  # fmt: skip
    if action not in rights:
        raise Http404
    take, membership = take_get_for_member(
        user=request.user, take_id=take_id, action=rights[action], on_board=True
    )
    if action == "select":
        do = lambda: services.panel_update(panel=take.panel, selected_take=take.id)  # noqa: E731
    elif action == "cancel":
        do = lambda: takes.take_cancel(take=take, by=request.user, membership=membership)  # noqa: E731
    elif action == "recall":
        do = lambda: services.panel_recall(panel=take.panel, take=take, membership=membership)  # noqa: E731
    else:
        do = lambda: takes.take_retry(take=take, author=request.user)  # noqa: E731
    try:
        done = do()
    except ValidationError as e:
        return _notice(request, take.panel_id, _errors(e), status=_status(e))
    if action == "recall":
        return _recalled(request, take, done, membership)
    return _render_card_region(request, take.panel_id, membership, "storyboards/_panel_frame.html")


def _recalled(request, take, panel, membership):
    """The card's meta, as after an edit; the panel's recalled fields and the take's settings
    ride along for the inspector's forms (static/js/takes.js fills them), and `panel-saved`
    tells the edit form it holds no draft."""
    response = _render_card_region(
        request, take.panel_id, membership, "storyboards/_panel_meta.html", oob=True
    )
    fields = {name: getattr(panel, name) for name in services.RECALLED_FIELDS}
    recalled = {"take": take.id, "panel": panel.id, "fields": fields,
                "settings": presenters.recall_settings(take)}  # fmt: skip
    response["HX-Trigger"] = json.dumps({"take-recalled": recalled, "panel-saved": True})
    return response


@login_required
@require_GET
def take_compare(request):
    """Two takes of one project side by side (`?a=<id>&b=<id>`): members only, 404 otherwise."""
    ids = [request.GET.get(key, "") for key in ("a", "b")]
    if not all(i.isascii() and i.isdigit() and len(i) <= 18 for i in ids):
        return HttpResponse("Pick two takes to compare.", status=422)
    if ids[0] == ids[1]:
        return HttpResponse("Pick two different takes to compare.", status=422)
    a, membership = take_get_for_member(user=request.user, take_id=int(ids[0]))
    b, _ = take_get_for_member(user=request.user, take_id=int(ids[1]))
    if a.panel.storyboard.project_id != b.panel.storyboard.project_id:
        raise Http404
    for take in (a, b):
        if not take.image:
            return HttpResponse(f"Take {take.id} has no picture to compare (it {take.status}).",
                                status=409)  # fmt: skip
    context = presenters.take_compare(a, b)
    return render(request, "storyboards/_take_compare.html", context)


@login_required
@require_POST
def comment_add(request, panel_id: int):
    panel, membership = selectors.panel_get_for_member(user=request.user, panel_id=panel_id)
    try:
        comment = services.comment_add(
            panel=panel, author=request.user, body=request.POST.get("body", ""),
            take_id=_optional_id(request.POST, "take"),
            reply_to_id=_optional_id(request.POST, "reply_to"), pin=_pin_from(request.POST),
        )  # fmt: skip
    except ValidationError as e:
        return _notice(request, panel.id, _errors(e))
    comment.pin_number = selectors.pin_number(comment)
    return render(request, "storyboards/_comment_added.html", {"comment": comment})


def _optional_id(post, name: str) -> int | None:
    value = post.get(name, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # "²" is a digit to Python
        raise ValidationError({name: f"{name.replace('_', ' ').capitalize()} must be an id."})
    return int(value)


def _pin_from(post) -> dict | None:
    """The comment form's pin fields (review mode), as the API's `pin`; the service checks them."""
    pin = {k: post[f"pin_{k}"] for k in ("x", "y", "w", "h") if post.get(f"pin_{k}", "").strip()}
    return pin or None


# --- renaming and deleting boards and projects ---------------------------------------------


@login_required
@require_POST
def project_rename(request, project_id: int):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    try:
        services.project_update(project=project, name=request.POST.get("name", ""))
    except ValidationError as e:
        messages.error(request, _errors(e))
    return redirect("project-detail", project_id=project_id)


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request, project_id: int):
    """A page that names everything that goes, and asks for the project's name to be typed."""
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    error = None
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() == project.name:
            name = project.name
            services.project_delete(project=project, by=request.user)
            messages.success(request, f"The project “{name}” and everything in it were deleted.")
            return redirect("project-list")
        error = "Type the project's name exactly as shown to delete it. Nothing was deleted."
    context = {"project": project, "error": error,
               "lost": selectors.project_deletion_summary(project)}  # fmt: skip
    return render(request, "storyboards/project_delete.html", context, status=422 if error else 200)


def _settings_form(post) -> dict:
    """The settings form as storyboard_update takes it; a field the form lacks stays as it is
    (the project page's rename sends only the title)."""
    form = {"title": post.get("title"), "aspect_ratio": post.get("aspect_ratio") or None,
            "apply_to_panels": bool(post.get("apply_to_panels"))}  # fmt: skip
    if "style_preset" in post:
        form["style_preset"] = _preset_id(post["style_preset"])
    return form


def _preset_id(value: str) -> int | None:
    """A style select's value: "" is none (or the board's), else a preset id."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValidationError({"style_preset": "Pick a style of this project."})
    return int(value)


@login_required
@require_http_methods(["GET", "POST"])
def storyboard_settings(request, storyboard_id: int):
    """The board's settings dialog (htmx: 204 and `board-settings-saved` once saved, 422 with the
    form and the reason when refused), or the project page's rename (a redirect back)."""
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    error, form = None, None
    if request.method == "POST":
        try:
            form = _settings_form(request.POST)
            services.storyboard_update(storyboard=storyboard, **form)
        except ValidationError as e:
            error = _errors(e)
            storyboard.refresh_from_db()
        if not request.htmx:
            if error:
                messages.error(request, error)
            return redirect("project-detail", project_id=storyboard.project_id)
        if error is None:
            return HttpResponse(status=204, headers={"HX-Trigger": "board-settings-saved"})
    board = selectors.storyboard_with_sizes(storyboard=storyboard)
    shown = {"title": board.title, "aspect_ratio": board.aspect_ratio, "apply_to_panels": False,
             "style_preset": board.style_preset_id}  # fmt: skip
    if form:  # a refused form comes back as the person left it
        shown |= {name: value for name, value in form.items() if value is not None}
    context = {"storyboard": board, "membership": membership, "error": error,
               "aspect_ratios": AspectRatio.choices,
               "styles": list(board.project.style_presets.order_by("name")), **shown}  # fmt: skip
    return render(
        request, "storyboards/_storyboard_settings.html", context, status=422 if error else 200
    )


@login_required
@require_POST
def storyboard_delete(request, storyboard_id: int):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.SUPERVISE
    )
    title, project_id = storyboard.title, storyboard.project_id
    services.storyboard_delete(storyboard=storyboard, by=request.user)
    messages.success(request, f"The storyboard “{title}” was deleted.")
    url = reverse("project-detail", kwargs={"project_id": project_id})
    if request.htmx:  # from the board's settings dialog: htmx leaves the page itself
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


# --- media ---------------------------------------------------------------------------------


def _project_of_file(name: str) -> int | None:
    """The project a stored file belongs to: a take's picture, video or mask, or a character's
    or location's reference image."""
    take = Take.objects.filter(
        Q(image=name) | Q(video=name) | Q(mask=name) | Q(reference=name)
    ).values_list("panel__storyboard__project_id", flat=True)
    for found in (take, Character.objects.filter(reference=name).values_list("project_id", flat=True),
                  Location.objects.filter(reference=name).values_list("project_id", flat=True)):  # fmt: skip
        project_id = found.first()
        if project_id is not None:
            return project_id
    return None


INLINE_MEDIA = {"image/png", "image/jpeg", "image/webp", "image/gif", "video/mp4", "video/webm"}


@require_GET
def media(request, name: str):
    """Take images, videos and masks, and reference images: for members of their project only
    (session or Bearer)."""
    user = request_user(request)
    project_id = _project_of_file(name)
    if project_id is None or not user.is_authenticated:
        raise Http404
    selectors.membership_get(user=user, project_id=project_id)
    from django.core.files.storage import default_storage

    if not default_storage.exists(name):
        raise Http404
    # A take's files never change under their name: the name is the ETag. The browser asks again
    # every time (no-cache) and gets a cheap 304, so a removed member's cache is worth nothing.
    tag = f'"{hashlib.sha256(name.encode()).hexdigest()[:32]}"'
    if request.headers.get("If-None-Match") == tag:
        response = HttpResponseNotModified()
    else:
        content_type = mimetypes.guess_type(name)[0] or ""
        # Only pictures and videos show inline: anything else (an .html or .svg a bundle
        # carried in) would run script on our origin with the viewer's session.
        inline = content_type in INLINE_MEDIA
        response = FileResponse(
            default_storage.open(name, "rb"), as_attachment=not inline,
            content_type=content_type if inline else "application/octet-stream",
        )  # fmt: skip
    response["ETag"] = tag
    response["Cache-Control"] = "private, no-cache"
    return response
