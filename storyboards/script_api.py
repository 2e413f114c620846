"""Scripts, versions, scenes, cast, locations and styles over JSON. Thin: select, call, shape."""

from datetime import datetime
from typing import Annotated

from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from studio.errors import ERRORS
from studio.types import Name, PathId, Text

from . import scripts, selectors
from .api import PanelOut, StoryboardOut, _storyboard_out
from .models import Action

router = Router(tags=["scripts"])
VersionNumber = Annotated[int, Query(ge=1, le=2**31)]


class ScriptIn(Schema):
    title: Name
    text: Text = Field("", max_length=scripts.SCRIPT_LIMIT)


class ScriptSave(Schema):
    text: Text = Field(max_length=scripts.SCRIPT_LIMIT)
    base_version: int = Field(ge=1, le=2**31, description="the version this edit started from")


class ScriptCreated(Schema):
    id: int
    title: str
    version: int


class ScriptOut(ScriptCreated):
    project: int = Field(alias="project_id")
    format: str
    text: str = Field(alias="source")
    updated_at: datetime
    estimated_seconds: float = Field(description="the whole script's estimated screen time")

    @staticmethod
    def resolve_estimated_seconds(script):
        return round(scripts.parsed_latest(script).total_seconds, 1)


class ScriptConflictOut(Schema):
    detail: str
    latest_version: int
    latest_text: str
    merged: str = Field(description="a three-way merge of your text and the latest version")
    conflicts: int = Field(description="conflict blocks marked <<<<<<< yours … >>>>>>> in merged")
    saved_by: str


class VersionOut(Schema):
    number: int
    note: str
    author: str
    created_at: datetime

    @staticmethod
    def resolve_author(v):
        return v.created_by.get_username()


class VersionText(VersionOut):
    text: str


class DiffRow(Schema):
    op: str = Field(description="' ' same, '-' only in a, '+' only in b")
    old: int | None
    new: int | None
    text: str


class RestoreIn(Schema):
    number: int = Field(ge=1, le=2**31)


class SceneOut(Schema):
    id: int
    number: str
    heading: str
    int_ext: str
    location: str
    time_of_day: str
    characters: list[str]
    estimated_seconds: float
    first_line: int | None
    last_line: int | None
    storyboards: list[int] = Field(description="boards made from this scene")
    panels: int = Field(description="panels on those boards")
    panel_seconds: float = Field(description="their running time, to compare with the estimate")


class EntityOut(Schema):
    id: int
    name: str
    description: str
    reference_url: str | None
    from_script: bool

    @staticmethod
    def resolve_reference_url(entity):
        return f"/media/{entity.reference.name}" if entity.reference else None


class CharacterOut(EntityOut):
    seed: int | None


class EntityIn(Schema):
    name: Name = Field(max_length=120)
    description: Text = Field("", max_length=scripts.DESCRIPTION_LIMIT)


class CharacterPatch(Schema):
    description: Text | None = Field(None, max_length=scripts.DESCRIPTION_LIMIT)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)


class LocationPatch(Schema):
    description: Text | None = Field(None, max_length=scripts.DESCRIPTION_LIMIT)


class StyleIn(Schema):
    name: Name = Field(max_length=120)
    prompt: Text = Field(max_length=1000)
    negative_prompt: Text = Field("", max_length=1000)


class StylePatch(Schema):
    name: Name | None = Field(None, max_length=120)
    prompt: Text | None = Field(None, max_length=1000)
    negative_prompt: Text | None = Field(None, max_length=1000)


class StyleOut(Schema):
    id: int
    name: str
    prompt: str
    negative_prompt: str


# --- scripts --------------------------------------------------------------------------------


@router.get("/projects/{project_id}/scripts", response={200: list[ScriptCreated], **ERRORS})
def list_scripts(request, project_id: PathId):
    project, _ = selectors.project_get_for_member(user=request.user, project_id=project_id)
    return project.scripts.order_by("created_at", "id")


@router.post("/projects/{project_id}/scripts", response={201: ScriptCreated, **ERRORS})
def create_script(request, project_id: PathId, body: ScriptIn):
    """A new script from Fountain text: version 1, its scenes, cast and locations found."""
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    script = scripts.script_create(project=project, user=request.user, title=body.title,
                                   text=body.text)  # fmt: skip
    return Status(201, script)


@router.post("/projects/{project_id}/scripts/import", response={201: ScriptCreated, **ERRORS})
def import_script(request, project_id: PathId, file: File[UploadedFile]):
    """Multipart `file`: .fountain, .txt or Final Draft .fdx (at most 5 MB, UTF-8 text or
    well-formed FDX without entities or a DTD). Final Draft is stored as Fountain."""
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    if file.size > scripts.UPLOAD_LIMIT:
        return Status(413, {"detail": f"The file is {file.size / 2**20:.1f} MB; a script file "
                                      f"may be at most {scripts.UPLOAD_LIMIT // 2**20} MB."})  # fmt: skip
    data = file.read(scripts.UPLOAD_LIMIT + 1)
    script = scripts.script_import(project=project, user=request.user,
                                   filename=file.name or "", data=data)  # fmt: skip
    return Status(201, script)


@router.get("/scripts/{script_id}", response={200: ScriptOut, **ERRORS})
def get_script(request, script_id: PathId):
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    return script


@router.put("/scripts/{script_id}", response={200: ScriptOut, 409: ScriptConflictOut, **{
    k: v for k, v in ERRORS.items() if k != 409}})  # fmt: skip
def save_script(request, script_id: PathId, body: ScriptSave):
    """Save a new version. 409 when `base_version` is not the latest: nothing is written, and
    the answer carries the latest text and a three-way merge to resolve and save again."""
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.EDIT
    )
    try:
        script = scripts.script_save(script=script, user=request.user, text=body.text,
                                     base_version=body.base_version)  # fmt: skip
    except scripts.ScriptConflict as conflict:
        return Status(409, {
            "detail": conflict.message, "latest_version": conflict.latest,
            "latest_text": conflict.latest_text, "merged": conflict.merged,
            "conflicts": conflict.conflicts, "saved_by": conflict.by,
        })  # fmt: skip
    return script


@router.delete("/scripts/{script_id}", response={204: None, **ERRORS})
def delete_script(request, script_id: PathId):
    """Directors and owners. Boards made from it stay whole, unlinked."""
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.SUPERVISE
    )
    scripts.script_delete(script=script)
    return Status(204, None)


@router.get("/scripts/{script_id}/versions", response={200: list[VersionOut], **ERRORS})
def list_versions(request, script_id: PathId):
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    return script.versions.select_related("created_by").order_by("-number")


@router.get("/scripts/{script_id}/versions/{number}", response={200: VersionText, **ERRORS})
def get_version(request, script_id: PathId, number: PathId):
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    version = script.versions.select_related("created_by").filter(number=number).first()
    if version is None:
        return Status(404, {"detail": f"This script has no version {number}."})
    return version


@router.get("/scripts/{script_id}/diff", response={200: list[DiffRow], **ERRORS})
def diff_versions(request, script_id: PathId, a: VersionNumber, b: VersionNumber):
    """Line by line from version `a` to version `b`."""
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    return selectors.version_diff(script=script, a=a, b=b)


@router.post("/scripts/{script_id}/restore", response={200: ScriptOut, **ERRORS})
def restore_version(request, script_id: PathId, body: RestoreIn):
    """An old version's text becomes the newest version."""
    script, _ = selectors.script_get_for_member(
        user=request.user, script_id=script_id, action=Action.EDIT
    )
    return scripts.script_restore(script=script, user=request.user, number=body.number)


@router.get("/scripts/{script_id}/scenes", response={200: list[SceneOut], **ERRORS})
def list_scenes(request, script_id: PathId):
    """The scene breakdown of the latest version, in script order."""
    script, _ = selectors.script_get_for_member(user=request.user, script_id=script_id)
    rows = []
    for row in selectors.script_breakdown(script=script):
        scene = row["scene"]
        if scene.removed:
            continue
        boards = row["storyboards"]
        rows.append({
            **{f: getattr(scene, f) for f in SceneOut.model_fields if hasattr(scene, f)},
            "storyboards": [b["id"] for b in boards], "panels": sum(b["panels"] for b in boards),
            "panel_seconds": sum(b["duration_s"] for b in boards),
        })  # fmt: skip
    return rows


@router.post("/scenes/{scene_id}/storyboard", response={201: StoryboardOut, **ERRORS})
def storyboard_scene(request, scene_id: PathId):
    """A storyboard linked to the scene with suggested panels (one per action beat or
    dialogue exchange, or per [[panel]] break the writer marked), ready to edit."""
    scene, _ = selectors.scene_get_for_member(
        user=request.user, scene_id=scene_id, action=Action.EDIT
    )
    board = scripts.storyboard_from_scene(scene=scene, user=request.user)
    return Status(201, _storyboard_out(board))


@router.post("/panels/{panel_id}/resync", response={200: PanelOut, **ERRORS})
def resync_panel(request, panel_id: PathId):
    """Take the script's current text into a `changed` panel (409 otherwise)."""
    panel, _ = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    return scripts.panel_resync(panel=panel)


@router.post("/panels/{panel_id}/keep", response={200: PanelOut, **ERRORS})
def keep_panel(request, panel_id: PathId):
    """Keep the panel as it is: a changed panel accepts the script's new text as its source;
    a removed one is unlinked."""
    panel, _ = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    return scripts.panel_keep(panel=panel)


# --- cast, locations, styles -------------------------------------------------------------------


@router.get("/projects/{project_id}/characters", response={200: list[CharacterOut], **ERRORS})
def list_characters(request, project_id: PathId):
    project, _ = selectors.project_get_for_member(user=request.user, project_id=project_id)
    return project.characters.order_by("name")


@router.post("/projects/{project_id}/characters", response={201: CharacterOut, **ERRORS})
def create_character(request, project_id: PathId, body: EntityIn):
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    return Status(201, scripts.character_create(project=project, **body.dict()))


@router.patch("/characters/{character_id}", response={200: CharacterOut, **ERRORS})
def update_character(request, character_id: PathId, body: CharacterPatch):
    """`seed: null` unpins the seed; a field left out stays."""
    character, _ = selectors.character_get_for_member(
        user=request.user, character_id=character_id, action=Action.EDIT
    )
    given = body.dict(exclude_unset=True)
    return scripts.character_update(
        character=character, description=given.get("description"),
        seed=given["seed"] if "seed" in given else scripts.UNCHANGED,
    )  # fmt: skip


@router.post("/characters/{character_id}/reference", response={200: CharacterOut, **ERRORS})
def set_character_reference(request, character_id: PathId, file: File[UploadedFile]):
    character, _ = selectors.character_get_for_member(
        user=request.user, character_id=character_id, action=Action.EDIT
    )
    return scripts.character_update(character=character, reference=file)


@router.get("/projects/{project_id}/locations", response={200: list[EntityOut], **ERRORS})
def list_locations(request, project_id: PathId):
    project, _ = selectors.project_get_for_member(user=request.user, project_id=project_id)
    return project.locations.order_by("name")


@router.post("/projects/{project_id}/locations", response={201: EntityOut, **ERRORS})
def create_location(request, project_id: PathId, body: EntityIn):
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    return Status(201, scripts.location_create(project=project, **body.dict()))


@router.patch("/locations/{location_id}", response={200: EntityOut, **ERRORS})
def update_location(request, location_id: PathId, body: LocationPatch):
    location, _ = selectors.location_get_for_member(
        user=request.user, location_id=location_id, action=Action.EDIT
    )
    return scripts.location_update(location=location, **body.dict(exclude_unset=True))


@router.post("/locations/{location_id}/reference", response={200: EntityOut, **ERRORS})
def set_location_reference(request, location_id: PathId, file: File[UploadedFile]):
    location, _ = selectors.location_get_for_member(
        user=request.user, location_id=location_id, action=Action.EDIT
    )
    return scripts.location_update(location=location, reference=file)


@router.get("/projects/{project_id}/styles", response={200: list[StyleOut], **ERRORS})
def list_styles(request, project_id: PathId):
    project, _ = selectors.project_get_for_member(user=request.user, project_id=project_id)
    return project.style_presets.order_by("name")


@router.post("/projects/{project_id}/styles", response={201: StyleOut, **ERRORS})
def create_style(request, project_id: PathId, body: StyleIn):
    project, _ = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    return Status(201, scripts.style_preset_create(project=project, **body.dict()))


@router.patch("/styles/{preset_id}", response={200: StyleOut, **ERRORS})
def update_style(request, preset_id: PathId, body: StylePatch):
    preset, _ = selectors.style_preset_get_for_member(
        user=request.user, preset_id=preset_id, action=Action.EDIT
    )
    return scripts.style_preset_update(preset=preset, **body.dict(exclude_unset=True))


@router.delete("/styles/{preset_id}", response={204: None, **ERRORS})
def delete_style(request, preset_id: PathId):
    preset, _ = selectors.style_preset_get_for_member(
        user=request.user, preset_id=preset_id, action=Action.EDIT
    )
    scripts.style_preset_delete(preset=preset)
    return Status(204, None)
