"""Script and cast pages. Thin, like views.py: a selector checks access, a service in
scripts.py changes things, a template shows them.

The editor saves with fetch and gets JSON back (it needs the numbers of a refused save to
offer a merge); everything else is a form or an htmx fragment.
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from . import scripts, selectors
from .models import Action
from .services import UNCHANGED
from .views import _errors, _status

# --- helpers -------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """Screen time as m:ss."""
    whole = round(seconds or 0)
    return f"{whole // 60}:{whole % 60:02d}"


def _number(value: str | None, field: str) -> int:
    """A whole number from a form or query string, else a sentence saying so."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise ValidationError({field: f"{field.replace('_', ' ').capitalize()} is a number."})
    return int(value)


# Fountain emphasis as HTML, on text already escaped: the markers never hold their own
# character, so each look ahead stops at the next one (linear, like screenplay/emphasis.py).
_ESCAPED = (("\\*", "\ue000"), ("\\_", "\ue001"))
_EMPHASIS = (
    (re.compile(r"\*\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*\*"), r"<b><i>\1</i></b>"),
    (re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*"), r"<b>\1</b>"),
    (re.compile(r"\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*"), r"<i>\1</i>"),
    (re.compile(r"_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_"), r"<u>\1</u>"),
)


def emphasis(markup: str) -> str:
    """Fountain markup as safe HTML: escaped first, then *italic*, **bold**, _underline_."""
    text = markup
    for marker, stand_in in _ESCAPED:
        text = text.replace(marker, stand_in)
    text = str(escape(text))
    if "*" in text or "_" in text:
        for _ in range(2):  # twice: "**bold *and italic* bold**" opens up after the inner pair
            for pair, html in _EMPHASIS:
                text = pair.sub(html, text)
    return mark_safe(text.replace("\ue000", "*").replace("\ue001", "_"))  # noqa: S308 (escaped above)


def conflict_lines(text: str) -> tuple[set[int], int]:
    """The (1-based) lines inside merge conflict markers, and how many conflicts there are."""
    lines, count, inside = set(), 0, False
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("<<<<<<<"):
            inside, count = True, count + 1
        if inside:
            lines.add(number)
        if line.startswith(">>>>>>>"):
            inside = False
    return lines, count


def preview(text: str, screenplay=None) -> dict:
    """The script as it prints: one block per element, with its first source line (the editor
    jumps there on a click) and whether it sits inside an unresolved conflict."""
    screenplay = screenplay or scripts.parsed(text)
    marked, conflicts = conflict_lines(text)
    title_page, blocks = [], []
    for element in screenplay.elements:
        html = emphasis(element.markup or element.text)
        if element.kind == "title":
            title_page.append({"key": element.key, "html": html})
            continue
        lines = range(element.first_line, element.last_line + 1)
        blocks.append({
            "kind": element.kind, "html": html, "line": element.first_line,
            "notes": element.notes, "dual": element.dual, "number": element.scene_number,
            "depth": min(element.depth, 6), "conflict": any(n in marked for n in lines),
        })  # fmt: skip
    return {
        "title_page": title_page, "blocks": blocks, "conflicts": conflicts,
        "scene_count": len(screenplay.scenes), "runtime": clock(screenplay.total_seconds),
    }  # fmt: skip


def _latest_version(script):
    return script.versions.select_related("created_by").first()  # newest first


def _versions(script, limit: int = 200):
    return list(script.versions.select_related("created_by").defer("text")[:limit])


# --- new scripts (from the project page) ----------------------------------------------------


@login_required
@require_GET
def project_scripts(request, project_id: int):
    """The project page's script list (loaded into the page)."""
    project, membership = selectors.project_get_for_member(user=request.user, project_id=project_id)
    context = {"project": project, "membership": membership,
               "scripts": selectors.scripts_for_project(project=project)}  # fmt: skip
    return render(request, "storyboards/_script_list.html", context)


@login_required
@require_POST
def script_create(request, project_id: int):
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    try:
        script = scripts.script_create(
            project=project, user=request.user, title=request.POST.get("title", ""),
            text=request.POST.get("text", ""),
        )  # fmt: skip
    except ValidationError as e:
        messages.error(request, f"The script was not created: {_errors(e)}")
        return redirect("project-detail", project_id=project.id)
    return redirect("script-editor", script_id=script.id)


@login_required
@require_POST
def script_import(request, project_id: int):
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": "Choose a .fountain, .txt or .fdx file to import."})
        data = upload.read(scripts.UPLOAD_LIMIT + 1)  # one byte over: the service says too big
        script = scripts.script_import(
            project=project, user=request.user, filename=upload.name or "", data=data
        )
    except ValidationError as e:
        messages.error(request, f"The file was not imported: {_errors(e)}")
        return redirect("project-detail", project_id=project.id)
    scenes = script.scenes.filter(removed=False).count()
    messages.success(request, f"Imported “{script.title}”: {scenes} scene{'s' * (scenes != 1)}.")
    return redirect("script-editor", script_id=script.id)


# --- the editor ----------------------------------------------------------------------------


@login_required
@require_GET
def script_editor(request, script_id: int):
    script, membership = selectors.script_get_for_member(user=request.user, script_id=script_id)
    context = {
        "script": script, "project": script.project, "membership": membership,
        "latest": _latest_version(script), "versions": _versions(script),
        "preview": preview(script.source, scripts.parsed_latest(script)),
        "limit": scripts.SCRIPT_LIMIT,
    }  # fmt: skip
    return render(request, "storyboards/script_editor.html", context)


@login_required
@require_POST
def script_preview(request, script_id: int):
    """The formatted screenplay of the editor's text (nothing is saved)."""
    selectors.script_get_for_member(user=request.user, script_id=script_id)
    text = request.POST.get("text", "")
    if len(text) > scripts.SCRIPT_LIMIT:
        message = f"A script may hold at most {scripts.SCRIPT_LIMIT:,} characters."
        return render(request, "storyboards/_notice.html", {"message": message}, status=422)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return render(request, "storyboards/_script_preview.html", {"preview": preview(text)})


def _saved(script) -> dict:
    latest = _latest_version(script)
    return {
        "version": script.version, "by": latest.created_by.get_username(),
        "at": latest.created_at.isoformat(), "note": latest.note,
        "scenes": script.scenes.filter(removed=False).count(),
    }  # fmt: skip


@login_required
@require_POST
def script_save(request, script_id: int):
    """JSON: 200 with the version now latest; 409 with what a merge needs (nothing written);
    422 with the reason."""
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.EDIT
    )
    try:
        base = _number(request.POST.get("base_version"), "base_version")
        script = scripts.script_save(
            script=script, user=request.user, text=request.POST.get("text", ""),
            base_version=base, note=request.POST.get("note", "")[:200],
        )  # fmt: skip
    except scripts.ScriptConflict as conflict:
        return JsonResponse({
            "detail": conflict.message, "latest": conflict.latest, "by": conflict.by,
            "merged": conflict.merged, "conflicts": conflict.conflicts,
            "latest_text": conflict.latest_text,
        }, status=409)  # fmt: skip
    except ValidationError as e:
        return JsonResponse({"detail": _errors(e)}, status=_status(e))
    return JsonResponse(_saved(script))


@login_required
@require_GET
def script_versions(request, script_id: int):
    """The versions list (the editor reloads it after a save)."""
    script, membership = selectors.script_get_for_member(user=request.user, script_id=script_id)
    context = {"script": script, "membership": membership, "versions": _versions(script)}
    return render(request, "storyboards/_script_versions.html", context)


@login_required
@require_GET
def script_export(request, script_id: int):
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    response = HttpResponse(script.source, content_type="text/plain; charset=utf-8")
    filename = f"{slugify(script.title) or 'script'}.fountain"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@login_required
@require_POST
def script_rename(request, script_id: int):
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.EDIT
    )
    try:
        scripts.script_rename(script=script, title=request.POST.get("title", ""))
    except ValidationError as e:
        messages.error(request, _errors(e))
    return redirect("script-editor", script_id=script.id)


@login_required
@require_POST
def script_delete(request, script_id: int):
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.SUPERVISE
    )
    title, project_id = script.title, script.project_id
    scripts.script_delete(script=script)
    messages.success(
        request, f"The script “{title}” and its versions were deleted; its storyboards stay."
    )
    return redirect("project-detail", project_id=project_id)


# --- versions ------------------------------------------------------------------------------


@login_required
@require_GET
def script_version(request, script_id: int, number: int):
    script, membership = selectors.script_get_for_member(user=request.user, script_id=script_id)
    version = script.versions.select_related("created_by").filter(number=number).first()
    if version is None:
        raise Http404
    context = {"script": script, "project": script.project, "membership": membership,
               "version": version, "versions": _versions(script),
               "preview": preview(version.text)}  # fmt: skip
    return render(request, "storyboards/script_version.html", context)


@login_required
@require_GET
def script_diff(request, script_id: int):
    script, membership = selectors.script_get_for_member(user=request.user, script_id=script_id)
    try:
        b = _number(request.GET.get("b") or str(script.version), "b")
        a = _number(request.GET.get("a") or str(max(b - 1, 1)), "a")
    except ValidationError:
        raise Http404 from None
    rows = selectors.version_diff(script=script, a=a, b=b)
    added = sum(1 for row in rows if row["op"] == "+")
    removed = sum(1 for row in rows if row["op"] == "-")
    context = {"script": script, "project": script.project, "membership": membership,
               "a": a, "b": b, "rows": rows, "added": added, "removed": removed,
               "versions": _versions(script)}  # fmt: skip
    return render(request, "storyboards/script_diff.html", context)


@login_required
@require_POST
def script_restore(request, script_id: int):
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.EDIT
    )
    try:
        number = _number(request.POST.get("number"), "number")
        before = script.version
        script = scripts.script_restore(script=script, user=request.user, number=number)
    except ValidationError as e:
        messages.error(request, _errors(e))
    else:
        if script.version == before:
            messages.info(request, f"Version {number} is the same as the latest: nothing changed.")
        else:
            messages.success(request, f"Version {number} restored as version {script.version}.")
    return redirect("script-editor", script_id=script.id)


# --- breakdown -----------------------------------------------------------------------------


@login_required
@require_GET
def script_breakdown(request, script_id: int):
    script, membership = selectors.script_get_for_member(user=request.user, script_id=script_id)
    rows = selectors.script_breakdown(script=script)
    for row in rows:
        boarded = sum(board["duration_s"] for board in row["storyboards"])
        row["estimate"] = clock(row["estimated_seconds"])
        row["boarded"] = clock(boarded)
        for board in row["storyboards"]:
            board["duration"] = clock(board["duration_s"])
    live = [row for row in rows if not row["scene"].removed]
    context = {
        "script": script, "project": script.project, "membership": membership, "rows": rows,
        "total": clock(sum(row["estimated_seconds"] for row in live)),
        "boarded_total": clock(sum(b["duration_s"] for row in live for b in row["storyboards"])),
        "boarded_scenes": sum(1 for row in live if row["storyboards"]), "scene_count": len(live),
    }  # fmt: skip
    return render(request, "storyboards/script_breakdown.html", context)


@login_required
@require_POST
def scene_storyboard(request, scene_id: int):
    scene, _ = selectors.scene_get_for_member(
        user=request.user, scene_id=scene_id, action=Action.EDIT
    )
    try:
        board = scripts.storyboard_from_scene(scene=scene, user=request.user)
    except ValidationError as e:
        messages.error(request, _errors(e))
        return redirect("script-breakdown", script_id=scene.script_id)
    return redirect("storyboard-detail", storyboard_id=board.id)


# --- cast and style ------------------------------------------------------------------------


@login_required
@require_GET
def project_cast(request, project_id: int):
    project, membership = selectors.project_get_for_member(user=request.user, project_id=project_id)
    context = {
        "project": project, "membership": membership,
        "characters": project.characters.all(), "locations": project.locations.all(),
        "styles": project.style_presets.all(),
    }  # fmt: skip
    return render(request, "storyboards/cast.html", context)


def _inline_error(request, where: str, error: ValidationError) -> HttpResponse:
    """A refused create, shown under its form (escaped)."""
    response = render(request, "storyboards/_notice.html", {"message": _errors(error)},
                      status=_status(error))  # fmt: skip
    response["HX-Retarget"], response["HX-Reswap"] = where, "innerHTML"
    return response


def _entity_row(request, kind: str, entity, membership, *, error=None, saved=False, status=200):
    context = {"kind": kind, "entity": entity, "membership": membership, "error": error,
               "saved": saved}  # fmt: skip
    return render(request, "storyboards/_cast_entity.html", context, status=status)


def _style_row(request, preset, membership, *, error=None, saved=False, status=200):
    context = {"preset": preset, "membership": membership, "error": error, "saved": saved}
    return render(request, "storyboards/_cast_style.html", context, status=status)


def _seed(post):
    if "seed" not in post:
        return UNCHANGED
    if not post["seed"].strip():
        return None  # unpinned: a new face each take
    try:
        return int(post["seed"])
    except ValueError:
        raise ValidationError({"seed": "A seed is a whole number (or empty)."}) from None


@login_required
@require_POST
def character_create(request, project_id: int):
    return _entity_create(request, project_id, "character", scripts.character_create)


def _entity_create(request, project_id: int, kind: str, create):
    """A new character or location, typed in on the cast page."""
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    try:
        entity = create(
            project=project, name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
        )  # fmt: skip
    except ValidationError as e:
        return _inline_error(request, f"#{kind}-create-notice", e)
    return _entity_row(request, kind, entity, membership)


@login_required
@require_POST
def character_edit(request, character_id: int):
    character, membership = selectors.character_get_for_member(
        user=request.user, character_id=character_id, action=Action.EDIT
    )
    try:
        character = scripts.character_update(
            character=character, description=request.POST.get("description"),
            seed=_seed(request.POST), reference=request.FILES.get("reference"),
            clear_reference=bool(request.POST.get("clear_reference")),
        )  # fmt: skip
    except ValidationError as e:
        character.refresh_from_db()
        return _entity_row(request, "character", character, membership, error=_errors(e),
                           status=_status(e))  # fmt: skip
    return _entity_row(request, "character", character, membership, saved=True)


@login_required
@require_POST
def location_create(request, project_id: int):
    return _entity_create(request, project_id, "location", scripts.location_create)


@login_required
@require_POST
def location_edit(request, location_id: int):
    location, membership = selectors.location_get_for_member(
        user=request.user, location_id=location_id, action=Action.EDIT
    )
    try:
        location = scripts.location_update(
            location=location, description=request.POST.get("description"),
            reference=request.FILES.get("reference"),
            clear_reference=bool(request.POST.get("clear_reference")),
        )  # fmt: skip
    except ValidationError as e:
        location.refresh_from_db()
        return _entity_row(request, "location", location, membership, error=_errors(e),
                           status=_status(e))  # fmt: skip
    return _entity_row(request, "location", location, membership, saved=True)


@login_required
@require_POST
def style_create(request, project_id: int):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    try:
        preset = scripts.style_preset_create(
            project=project, name=request.POST.get("name", ""),
            prompt=request.POST.get("prompt", ""),
            negative_prompt=request.POST.get("negative_prompt", ""),
        )  # fmt: skip
    except ValidationError as e:
        return _inline_error(request, "#style-create-notice", e)
    return _style_row(request, preset, membership)


@login_required
@require_POST
def style_edit(request, preset_id: int):
    preset, membership = selectors.style_preset_get_for_member(
        user=request.user, preset_id=preset_id, action=Action.EDIT
    )
    try:
        preset = scripts.style_preset_update(
            preset=preset, name=request.POST.get("name"), prompt=request.POST.get("prompt"),
            negative_prompt=request.POST.get("negative_prompt"),
        )  # fmt: skip
    except ValidationError as e:
        preset.refresh_from_db()
        return _style_row(request, preset, membership, error=_errors(e), status=_status(e))
    return _style_row(request, preset, membership, saved=True)


@login_required
@require_POST
def style_delete(request, preset_id: int):
    """Editors may delete a style, as in the API (boards that used it fall back to none)."""
    preset, _ = selectors.style_preset_get_for_member(
        user=request.user, preset_id=preset_id, action=Action.EDIT
    )
    scripts.style_preset_delete(preset=preset)
    return HttpResponse("")
