"""Every change to scripts, their scenes, cast, locations and styles, and what it does to boards.

The script is Fountain text; every save is a new ScriptVersion. A save re-reads the script
(storyboards/screenplay), updates its scenes and the project's cast and locations, and re-maps
the panels made from it: each panel keeps the ids of the elements it came from and the text it
took. Ids survive edits elsewhere; an edited element is followed through a diff of the two
versions' element sequences, a moved one by its content hash. A panel whose source now reads
differently is flagged `changed`, one whose source is gone `removed`, live on every open board.
A board never loses anything to a script change: the flag only tells, people decide.
"""

from dataclasses import dataclass
from difflib import SequenceMatcher

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from studio.errors import Conflict
from studio.events import publish, script_topic

from . import screenplay as sp
from .models import (
    Character,
    Location,
    Panel,
    Project,
    Scene,
    Script,
    ScriptStatus,
    ScriptVersion,
    Storyboard,
    StylePreset,
)
from .services import TEXT_LIMIT, UNCHANGED, _check_name, _check_text, storyboard_create

SCRIPT_LIMIT = 1_000_000  # characters: a 120-page script is about 200,000
UPLOAD_LIMIT = 5 * 1024 * 1024  # bytes: a 300-page .fdx is about 1 MB
REFERENCE_LIMIT = 10 * 1024 * 1024  # bytes, a character's or location's reference image
DESCRIPTION_LIMIT = 2000


class ScriptConflict(Conflict):
    """Someone saved the script since the version this edit started from (answered 409).
    Carries what a client needs to merge instead of losing either side."""

    def __init__(self, *, latest: int, latest_text: str, merged: str, conflicts: int, by: str):
        self.latest, self.latest_text, self.by = latest, latest_text, by
        self.merged, self.conflicts = merged, conflicts
        super().__init__(
            f"{by} saved version {latest} while you were editing. Nothing was overwritten: "
            f"review the merged text ({conflicts} conflict{'s' if conflicts != 1 else ''} marked) "
            f"or save yours again on top of version {latest}."
        )


# --- reading scripts ---------------------------------------------------------------------------


def parsed(text: str) -> sp.Screenplay:
    return sp.parse_fountain(text)


_latest: dict[tuple[int, int, int], sp.Screenplay] = {}


def parsed_latest(script: Script) -> sp.Screenplay:
    """The latest version, read once per process and version (inspectors open it often)."""
    key = (script.pk, script.version, hash(script.source))  # ids may repeat (a rolled-back row)
    if key not in _latest:
        if len(_latest) > 32:
            _latest.clear()
        _latest[key] = parsed(script.source)
    return _latest[key]


def _check_script_text(text: str) -> str:
    _check_text("text", text)
    if len(text) > SCRIPT_LIMIT:
        raise ValidationError(
            {
                "text": f"A script may hold at most {SCRIPT_LIMIT:,} characters (this is {len(text):,})."
            }
        )
    return text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")


# --- scripts and versions ----------------------------------------------------------------------


@transaction.atomic
def script_create(
    *, project: Project, user, title: str, text: str, format: str = Script.Format.FOUNTAIN,
    note: str = "",
) -> Script:  # fmt: skip
    title = _check_name("title", title, "Give the script a title.")
    text = _check_script_text(text)
    screenplay = parsed(text)
    script = Script.objects.create(
        project=project, title=title, format=format, source=text, version=1, created_by=user
    )
    ScriptVersion.objects.create(script=script, number=1, text=text, note=note, created_by=user)
    _sync_scenes(script, None, screenplay)
    _sync_cast(project, screenplay)
    return script


def script_import(*, project: Project, user, filename: str, data: bytes) -> Script:
    """A .fountain, .txt or .fdx file becomes a script (Final Draft is stored as Fountain)."""
    if len(data) > UPLOAD_LIMIT:
        raise ValidationError(
            {"file": f"The file is {len(data) / 1024 / 1024:.1f} MB; a script file may be at "
                     f"most {UPLOAD_LIMIT // 1024 // 1024} MB."}
        )  # fmt: skip
    try:
        title, text, fmt = sp.read_upload(filename or "", data)
    except sp.ScriptError as error:
        raise ValidationError({"file": str(error)}) from None
    return script_create(
        project=project, user=user, title=title[:200] or "Untitled", text=text, format=fmt,
        note=f"Imported from {filename[:150]}",
    )  # fmt: skip


@transaction.atomic
def script_save(*, script: Script, user, text: str, base_version: int, note: str = "") -> Script:
    """A new version, unless someone saved since `base_version`: then nothing is written and
    ScriptConflict carries the latest text and a three-way merge of both edits."""
    text = _check_script_text(text)
    script = Script.objects.select_for_update().get(pk=script.pk)
    if base_version != script.version:
        raise _conflict(script, base_version, text)
    if text == script.source:
        return script  # nothing changed: no empty version
    return _new_version(script, user, text, note)


def _conflict(script: Script, base_version: int, mine: str) -> ScriptConflict:
    latest = script.versions.select_related("created_by").get(number=script.version)
    base = script.versions.filter(number=base_version).first()
    by = latest.created_by.get_username()
    if base is None:  # a version that never existed: nothing to merge from
        merged, conflicts = sp.merge("", mine, script.source, f"version {script.version}")
    else:
        merged, conflicts = sp.merge(base.text, mine, script.source, f"version {script.version}")
    return ScriptConflict(
        latest=script.version, latest_text=script.source, merged=merged, conflicts=conflicts, by=by
    )


def _new_version(script: Script, user, text: str, note: str) -> Script:
    before = parsed_latest(script)
    after = parsed(text)
    script.version += 1
    script.source = text
    script.save(update_fields=["version", "source", "updated_at"])
    ScriptVersion.objects.create(
        script=script, number=script.version, text=text, note=note[:200], created_by=user
    )
    mapping = element_mapping(before, after)
    _sync_scenes(script, mapping, after)
    _sync_cast(script.project, after)
    _remap_panels(script, mapping, after)
    _tell_saved(script, user, note)
    return script


def _tell_saved(script: Script, user, note: str) -> None:
    publish(script_topic(script.id), "script.saved", {
        "script": script.id, "version": script.version, "by": user.get_username(), "note": note,
    })  # fmt: skip


@transaction.atomic
def script_restore(*, script: Script, user, number: int) -> Script:
    """An old version's text becomes the newest version (history is never rewritten)."""
    script = Script.objects.select_for_update().get(pk=script.pk)
    old = script.versions.filter(number=number).first()
    if old is None:
        raise ValidationError({"number": f"This script has no version {number}."})
    if old.text == script.source:
        return script
    return _new_version(script, user, old.text, f"Restored version {number}")


@transaction.atomic
def script_rename(*, script: Script, title: str) -> Script:
    script.title = _check_name("title", title, "Give the script a title.")
    script.save(update_fields=["title", "updated_at"])
    return script


@transaction.atomic
def script_delete(*, script: Script) -> None:
    """The script and its versions go; boards made from it stay, unlinked and whole."""
    panels = Panel.all_objects.filter(scene__script=script)
    boards = set(panels.values_list("storyboard_id", flat=True))
    panels.update(script_status=ScriptStatus.UNLINKED, script_elements=[])
    script.delete()
    for board in boards:
        publish(board, "storyboard.updated", {})


# --- following elements from one version to the next --------------------------------------------


def element_mapping(before: sp.Screenplay, after: sp.Screenplay) -> dict[str, str | None]:
    """Old element id -> the id of the same element in the new version (edited or not), or
    None when it is gone. Unchanged runs and edits in place come from a diff of the two
    element sequences; an element that moved is found by its exact content."""
    old, new = before.elements, after.elements
    mapping: dict[str, str | None] = {}
    # The unchanged head and tail first: a one-line edit of a long script leaves a tiny middle
    # for the diff, whose cost grows fast with repeated lines ("Yes.", "JOHN").
    head = 0
    while head < min(len(old), len(new)) and old[head].hash == new[head].hash:
        mapping[old[head].id] = new[head].id
        head += 1
    tail = 0
    while (tail < min(len(old), len(new)) - head
           and old[-1 - tail].hash == new[-1 - tail].hash):  # fmt: skip
        mapping[old[-1 - tail].id] = new[-1 - tail].id
        tail += 1
    old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
    if len(old_mid) > LARGE_EDIT or len(new_mid) > LARGE_EDIT:
        _anchored(old_mid, new_mid, mapping)
        _find_moved(old_mid, new_mid, mapping)
        return mapping
    matcher = SequenceMatcher(None, [e.hash for e in old_mid], [e.hash for e in new_mid],
                              autojunk=False)  # fmt: skip
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                mapping[old_mid[i1 + k].id] = new_mid[j1 + k].id
        elif tag == "replace":
            _pair_edited(old_mid[i1:i2], new_mid[j1:j2], mapping)
        elif tag == "delete":
            for element in old_mid[i1:i2]:
                mapping[element.id] = None
    _find_moved(old_mid, new_mid, mapping)
    return mapping


LARGE_EDIT = 3000  # elements: past this the diff's cost explodes on repeated lines


def _anchored(old: list[sp.Element], new: list[sp.Element], mapping: dict) -> None:
    """Linear alignment for rewrites of thousands of elements: elements whose stable id and
    text are unchanged anchor the two versions in order; between two anchors, elements pair by
    kind as in an edited run."""
    where = {element.id: j for j, element in enumerate(new)}
    anchors, last = [], -1
    for i, element in enumerate(old):
        j = where.get(element.id)
        if j is not None and j > last and new[j].hash == element.hash:
            anchors.append((i, j))
            last = j
    previous_i, previous_j = -1, -1
    for i, j in [*anchors, (len(old), len(new))]:
        _pair_edited(old[previous_i + 1 : i], new[previous_j + 1 : j], mapping)
        if i < len(old):
            mapping[old[i].id] = new[j].id
        previous_i, previous_j = i, j


def _pair_edited(old: list[sp.Element], new: list[sp.Element], mapping: dict) -> None:
    """Within an edited run, the n-th old element of a kind became the n-th new one."""
    by_kind: dict[str, list[sp.Element]] = {}
    for element in new:
        by_kind.setdefault(element.kind, []).append(element)
    for element in old:
        candidates = by_kind.get(element.kind)
        mapping[element.id] = candidates.pop(0).id if candidates else None


def _find_moved(old: list[sp.Element], new: list[sp.Element], mapping: dict) -> None:
    taken = {target for target in mapping.values() if target}
    by_hash: dict[str, list[str]] = {}
    for element in new:
        if element.id not in taken:
            by_hash.setdefault(element.hash, []).append(element.id)
    for element in old:
        if mapping.get(element.id) is None and by_hash.get(element.hash):
            mapping[element.id] = by_hash[element.hash].pop(0)


def source_text(elements: list[sp.Element]) -> str:
    """What a panel takes from its elements, as the script prints it."""
    blocks: list[str] = []
    for element in elements:
        if element.kind in ("parenthetical", "dialogue", "lyric") and blocks:
            blocks[-1] += "\n" + element.text
        elif element.kind not in ("note", "synopsis", "section", "page_break", "title"):
            blocks.append(element.text)
    return "\n\n".join(blocks)


def _split_source(elements: list[sp.Element]) -> tuple[str, str]:
    """The action and dialogue fields a panel takes from its elements."""
    actions = [e.text for e in elements if e.kind in ("action", "centered", "transition")]
    return _clip("\n\n".join(actions)), _clip(sp.dialogue_text(elements))


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1].rstrip() + "…"


@dataclass
class SourceLink:
    """Where a panel stands with its script: its elements now, and their text now."""

    status: str
    elements: list[sp.Element]
    text: str


def link_of(panel: Panel, screenplay: sp.Screenplay, by_id: dict | None = None) -> SourceLink:
    by_id = screenplay.by_id() if by_id is None else by_id
    elements = [by_id[i] for i in panel.script_elements if i in by_id]
    text = source_text(elements)
    if not elements:
        status = ScriptStatus.REMOVED
    elif text == panel.script_text:
        status = ScriptStatus.LINKED
    else:
        status = ScriptStatus.CHANGED
    return SourceLink(status, elements, text)


def _remap_panels(script: Script, mapping: dict, after: sp.Screenplay) -> None:
    panels = Panel.all_objects.filter(scene__script=script).exclude(
        script_status=ScriptStatus.UNLINKED
    )
    by_id = after.by_id()
    moved, flagged = [], []
    for panel in panels.select_for_update().only(
        "id", "storyboard_id", "deleted_at", "script_elements", "script_text", "script_status",
        "script_first_line", "script_last_line",
    ):  # fmt: skip
        before = (panel.script_elements, panel.script_status, panel.script_first_line,
                  panel.script_last_line)  # fmt: skip
        ids = [mapping[i] for i in panel.script_elements if mapping.get(i)]
        if ids:
            panel.script_elements = list(dict.fromkeys(ids))
            link = link_of(panel, after, by_id)
        else:
            # Gone (or gone before): the old ids stay, so restoring the script links it again,
            # but only to elements that read exactly as the panel took them (ids repeat).
            link = link_of(panel, after, by_id)
            if link.status != ScriptStatus.LINKED:
                link = SourceLink(ScriptStatus.REMOVED, [], "")
        panel.script_status = link.status
        if link.elements:
            panel.script_first_line = link.elements[0].first_line
            panel.script_last_line = link.elements[-1].last_line
        now = (panel.script_elements, panel.script_status, panel.script_first_line,
               panel.script_last_line)  # fmt: skip
        if now != before:
            moved.append(panel)
        if now[1] != before[1] and panel.deleted_at is None:
            flagged.append(panel)
    # One statement per 500 panels: a 120-page script's save stays well under a second.
    Panel.all_objects.bulk_update(
        moved, ["script_elements", "script_status", "script_first_line", "script_last_line"],
        batch_size=500,
    )  # fmt: skip
    for panel in flagged:
        publish(panel.storyboard_id, "panel.updated", {"panel": panel.id})


@transaction.atomic
def panel_resync(*, panel: Panel) -> Panel:
    """The panel takes the script's current text (its action and dialogue are rewritten; the
    frame, takes and notes stay)."""
    panel = Panel.objects.select_for_update().get(pk=panel.pk)
    script = _script_of(panel)
    link = link_of(panel, parsed_latest(script))
    if link.status != ScriptStatus.CHANGED:
        raise Conflict(
            "Only a panel whose script changed can be re-synced."
            if link.status != ScriptStatus.REMOVED
            else "Its lines were removed from the script: keep the panel as it is or delete it."
        )
    panel.action, panel.dialogue = _split_source(link.elements)
    return _settle(panel, link, ScriptStatus.LINKED)


@transaction.atomic
def panel_keep(*, panel: Panel) -> Panel:
    """The panel stays as it is: a changed panel accepts the new text as its source without
    taking it; a removed one lets go of the script."""
    panel = Panel.objects.select_for_update().get(pk=panel.pk)
    script = _script_of(panel)
    link = link_of(panel, parsed_latest(script))
    if link.status == ScriptStatus.LINKED:
        raise Conflict("This panel already matches its script.")
    status = ScriptStatus.LINKED if link.status == ScriptStatus.CHANGED else ScriptStatus.UNLINKED
    return _settle(panel, link, status)


def _script_of(panel: Panel) -> Script:
    if panel.scene_id is None or panel.script_status == ScriptStatus.UNLINKED:
        raise Conflict("This panel is not linked to a script.")
    return panel.scene.script


def _settle(panel: Panel, link: SourceLink, status: str) -> Panel:
    panel.script_text = link.text
    panel.script_status = status
    if status == ScriptStatus.UNLINKED:
        panel.script_elements = []
    panel.save()
    publish(panel.storyboard_id, "panel.updated", {"panel": panel.id})
    return panel


# --- scenes, cast and locations --------------------------------------------------------------


def _sync_scenes(script: Script, mapping: dict | None, screenplay: sp.Screenplay) -> None:
    """Scene rows follow the script: a scene keeps its row (and its boards) through edits of
    its heading; a scene cut from the script is kept, marked removed."""
    rows: dict[str, Scene] = {}
    existing = list(script.scenes.all())
    for row in existing:  # live scenes follow their heading through the edit
        if not row.removed:
            key = mapping.get(row.element_id) if mapping else row.element_id
            if key and key not in rows:
                rows[key] = row
    for row in existing:  # a cut scene comes back only to a heading nobody else claimed
        if row.removed and row.element_id not in rows:
            rows[row.element_id] = row
    seen = set()
    for info in screenplay.scenes:
        row = rows.get(info.id) or Scene(script=script, element_id=info.id)
        values = {
            "element_id": info.id, "position": info.index, "removed": False,
            "number": info.number[:16], "heading": info.heading[:300],
            "int_ext": info.int_ext[:8], "location": info.location[:200],
            "time_of_day": info.time_of_day[:60], "characters": info.characters,
            "estimated_seconds": round(info.estimated_seconds, 1),
            "first_line": info.first_line, "last_line": info.last_line,
        }  # fmt: skip
        if row.pk is None or any(getattr(row, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save()  # only scenes that changed: a one-line edit saves one or two rows
        seen.add(row.pk)
    script.scenes.exclude(pk__in=seen).update(removed=True)


def _sync_cast(project: Project, screenplay: sp.Screenplay) -> None:
    """Everyone who speaks and every place a heading names become project entities once;
    descriptions people wrote are never touched, and nobody is removed."""
    names = {name[:120] for name in screenplay.speakers if name.strip()}
    have = set(project.characters.filter(name__in=names).values_list("name", flat=True))
    Character.objects.bulk_create(
        [Character(project=project, name=n, from_script=True) for n in sorted(names - have)],
        ignore_conflicts=True,
    )
    places = {scene.location[:120] for scene in screenplay.scenes if scene.location.strip()}
    have = set(project.locations.filter(name__in=places).values_list("name", flat=True))
    Location.objects.bulk_create(
        [Location(project=project, name=n, from_script=True) for n in sorted(places - have)],
        ignore_conflicts=True,
    )


# --- storyboard this scene ---------------------------------------------------------------------


@transaction.atomic
def storyboard_from_scene(*, scene: Scene, user, title: str | None = None) -> Storyboard:
    """A new board linked to the scene, one suggested panel per beat (or per [[panel]] break
    the writer marked), each remembering the elements it came from."""
    if scene.removed:
        raise Conflict("This scene was cut from the script.")
    script = scene.script
    screenplay = parsed_latest(script)
    info = next((s for s in screenplay.scenes if s.id == scene.element_id), None)
    if info is None:
        raise Conflict("This scene is no longer in the script.")
    by_id = screenplay.by_id()
    label = f"Scene {scene.number}: {scene.heading}" if scene.number else scene.heading
    board = storyboard_create(project=script.project, user=user, title=(title or label)[:200])
    board.script, board.scene = script, scene
    board.save(update_fields=["script", "scene"])
    panels = []
    for position, beat in enumerate(sp.beats(screenplay, info.index)):
        elements = [by_id[i] for i in beat.element_ids if i in by_id]
        panels.append(Panel(
            storyboard=board, position=position, created_by=user, scene=scene,
            aspect_ratio=board.aspect_ratio, prompt=beat.prompt[:1000],
            shot_type=beat.shot_type, action=_clip(beat.action), dialogue=_clip(beat.dialogue),
            notes=_clip(beat.note), duration_ms=min(max(beat.duration_ms, 100), 600_000),
            script_elements=beat.element_ids, script_text=source_text(elements),
            script_status=ScriptStatus.LINKED,
            script_first_line=beat.first_line, script_last_line=beat.last_line,
        ))  # fmt: skip
    Panel.objects.bulk_create(panels)
    return board


# --- characters, locations, styles -------------------------------------------------------------


def _check_description(text: str | None) -> str | None:
    if text is None:
        return None
    _check_text("description", text)
    if len(text) > DESCRIPTION_LIMIT:
        raise ValidationError(
            {"description": f"Use at most {DESCRIPTION_LIMIT} characters (this is {len(text)})."}
        )
    return text.strip()


def _check_reference(reference: UploadedFile | None) -> None:
    if reference is None:
        return
    if reference.size > REFERENCE_LIMIT:
        raise ValidationError({"reference": "A reference image may be at most 10 MB."})
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(reference) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            {"reference": "The reference must be a PNG, JPEG or WebP image."}
        ) from None
    reference.seek(0)


def _entity_name(name: str) -> str:
    name = " ".join((name or "").split()).upper()
    if not name:
        raise ValidationError({"name": "Give it a name."})
    if len(name) > 120:
        raise ValidationError({"name": "Use at most 120 characters."})
    _check_text("name", name)
    return name


def _entity_create(model, *, project: Project, name: str, description: str, taken: str):
    name = _entity_name(name)
    if model.objects.filter(project=project, name=name).exists():
        raise Conflict(taken.format(name=name))
    return model.objects.create(
        project=project, name=name, description=_check_description(description) or ""
    )


def _entity_update(entity, *, description, reference, clear_reference):
    """What characters and locations share: the description and the reference image."""
    description = _check_description(description)
    if description is not None:
        entity.description = description
    _set_reference(entity, reference, clear_reference)
    entity.save()
    return entity


@transaction.atomic
def character_create(*, project: Project, name: str, description: str = "") -> Character:
    return _entity_create(Character, project=project, name=name, description=description,
                          taken="{name} is already in the cast.")  # fmt: skip


@transaction.atomic
def character_update(
    *, character: Character, description: str | None = None, seed=UNCHANGED,
    reference: UploadedFile | None = None, clear_reference: bool = False,
) -> Character:  # fmt: skip
    if seed is not UNCHANGED:
        if seed is not None and not 0 <= int(seed) < 2**63:
            raise ValidationError({"seed": "A seed is a whole number from 0 to 2⁶³−1."})
        character.seed = seed
    return _entity_update(character, description=description, reference=reference,
                          clear_reference=clear_reference)  # fmt: skip


@transaction.atomic
def location_create(*, project: Project, name: str, description: str = "") -> Location:
    return _entity_create(Location, project=project, name=name, description=description,
                          taken="{name} is already a location.")  # fmt: skip


@transaction.atomic
def location_update(
    *, location: Location, description: str | None = None,
    reference: UploadedFile | None = None, clear_reference: bool = False,
) -> Location:  # fmt: skip
    return _entity_update(location, description=description, reference=reference,
                          clear_reference=clear_reference)  # fmt: skip


def _set_reference(entity, reference: UploadedFile | None, clear: bool) -> None:
    """The old image's file stays: takes conditioned on it still name it."""
    _check_reference(reference)
    if clear or reference is not None:
        entity.reference = ""
    if reference is not None:
        entity.reference.save(f"{entity.project_id}-{reference.name[-60:]}", reference, save=False)


def _check_style_text(field: str, text: str) -> str:
    _check_text(field, text)
    if len(text) > 1000:
        raise ValidationError({field: f"Use at most 1000 characters (this is {len(text)})."})
    return text.strip()


@transaction.atomic
def style_preset_create(
    *, project: Project, name: str, prompt: str, negative_prompt: str = ""
) -> StylePreset:
    name = _check_name("name", name, "Give the style a name.")[:120]
    if project.style_presets.filter(name=name).exists():
        raise Conflict(f"There is already a style called {name}.")
    return StylePreset.objects.create(
        project=project, name=name, prompt=_check_style_text("prompt", prompt),
        negative_prompt=_check_style_text("negative_prompt", negative_prompt),
    )  # fmt: skip


@transaction.atomic
def style_preset_update(
    *, preset: StylePreset, name: str | None = None, prompt: str | None = None,
    negative_prompt: str | None = None,
) -> StylePreset:  # fmt: skip
    if name is not None:
        name = _check_name("name", name, "Give the style a name.")[:120]
        if preset.project.style_presets.filter(name=name).exclude(pk=preset.pk).exists():
            raise Conflict(f"There is already a style called {name}.")
        preset.name = name
    if prompt is not None:
        preset.prompt = _check_style_text("prompt", prompt)
    if negative_prompt is not None:
        preset.negative_prompt = _check_style_text("negative_prompt", negative_prompt)
    preset.save()
    return preset


@transaction.atomic
def style_preset_delete(*, preset: StylePreset) -> None:
    """Boards and panels that used it fall back to no style (or the board's)."""
    preset.delete()
