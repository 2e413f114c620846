"""Projects, members, storyboards, panels and comments over JSON. Thin: select, call, shape."""

from datetime import datetime
from typing import Literal

from django.conf import settings
from ninja import Router, Schema, Status
from pydantic import Field

from studio.errors import ERRORS
from studio.types import Id, Name, PathId, ShortText, Text

from . import selectors, services
from .models import Action, AspectRatio, CameraMove, Membership, ReviewStatus, Role, ShotType
from .services import TEXT_LIMIT

router = Router(tags=["storyboards"])

RoleName = Literal[tuple(Role.values)]


class MemberOut(Schema):
    id: int
    username: str
    role: str

    @staticmethod
    def resolve_username(m):
        return m.user.username


class StoryboardBrief(Schema):
    id: int
    title: str
    created_at: datetime


class ProjectOut(Schema):
    id: int
    name: str
    created_at: datetime


class ProjectDetail(ProjectOut):
    role: str
    members: list[MemberOut]
    storyboards: list[StoryboardBrief]


class ProjectIn(Schema):
    name: Name


class MemberIn(Schema):
    username: ShortText
    role: RoleName


class MemberPatch(Schema):
    role: RoleName


class StoryboardIn(Schema):
    title: Name
    aspect_ratio: Literal[tuple(AspectRatio.values)] | None = None


class StoryboardPatch(Schema):
    title: Name | None = None
    aspect_ratio: Literal[tuple(AspectRatio.values)] | None = None
    apply_to_panels: bool = False  # reframe every panel on the board to `aspect_ratio` too
    style_preset: Id | None = Field(None, description="the board's style; null: none")


class ProjectPatch(Schema):
    name: Name


class PanelFields(Schema):
    prompt: Text | None = Field(None, max_length=settings.SLATE_MAX_PROMPT)
    negative_prompt: Text | None = Field(None, max_length=settings.SLATE_MAX_PROMPT)
    shot_type: Literal[tuple(ShotType.values)] | None = None
    camera_move: Literal[tuple(CameraMove.values)] | None = None
    action: Text | None = Field(None, max_length=TEXT_LIMIT)
    dialogue: Text | None = Field(None, max_length=TEXT_LIMIT)
    notes: Text | None = Field(None, max_length=TEXT_LIMIT)
    duration_ms: int | None = Field(None, ge=100, le=600_000)
    aspect_ratio: Literal[tuple(AspectRatio.values)] | None = None


class PanelNew(PanelFields):
    # Insert here (0-based; the panels from here on move one later). Left out: at the end.
    position: int | None = Field(None, ge=0, le=100_000)


class PanelPatch(PanelFields):
    selected_take: Id | None = None
    style_preset: Id | None = Field(None, description="a style of the project; null: the board's")
    position: int | None = Field(None, ge=0, le=100_000)


class PanelOut(Schema):
    id: int
    storyboard: int = Field(alias="storyboard_id")
    position: int
    prompt: str
    negative_prompt: str
    shot_type: str
    camera_move: str
    action: str
    dialogue: str
    notes: str
    duration_ms: int
    aspect_ratio: str
    selected_take: int | None = Field(alias="selected_take_id")
    scene: int | None = Field(alias="scene_id")
    style_preset: int | None = Field(alias="style_preset_id")
    # null: not made from a script; linked; changed (the script now reads differently:
    # POST /api/panels/{id}/resync takes the new text); removed (its lines left the script)
    script_status: Literal["linked", "changed", "removed"] | None
    script_first_line: int | None
    script_last_line: int | None
    status: str = Field(description="draft, in_review, changes_requested or approved")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_script_status(panel):
        return panel.script_status or None


class StoryboardOut(Schema):
    id: int
    project: int = Field(alias="project_id")
    title: str
    aspect_ratio: str
    script: int | None = Field(None, alias="script_id")
    scene: int | None = Field(None, alias="scene_id")
    style_preset: int | None = Field(None, alias="style_preset_id")
    created_at: datetime
    panels: list[PanelOut]


class PinIn(Schema):
    """Where on the take's frame: a point (x, y) or an area (x, y, w, h), fractions 0..1."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float | None = Field(None, gt=0, le=1)
    h: float | None = Field(None, gt=0, le=1)


class CommentIn(Schema):
    body: Text = Field(max_length=10_000)
    take: Id | None = None
    reply_to: Id | None = None
    pin: PinIn | None = None


class PinOut(Schema):
    x: float
    y: float
    w: float | None
    h: float | None
    number: int | None


class CommentOut(Schema):
    id: int
    panel: int = Field(alias="panel_id")
    take: int | None = Field(alias="take_id")
    reply_to: int | None = Field(alias="reply_to_id")
    author: str
    body: str
    pin: PinOut | None
    mentions: list[str]
    resolved: bool
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_author(c):
        return c.author.username

    @staticmethod
    def resolve_pin(c):
        if not c.pinned:
            return None
        return {"x": c.pin_x, "y": c.pin_y, "w": c.pin_w, "h": c.pin_h,
                "number": getattr(c, "pin_number", None)}  # fmt: skip

    @staticmethod
    def resolve_mentions(c):
        return sorted(user.username for user in c.mentions.all())

    @staticmethod
    def resolve_resolved(c):
        return c.resolved_at is not None

    @staticmethod
    def resolve_resolved_by(c):
        return c.resolved_by.username if c.resolved_by_id else None


class NotificationOut(Schema):
    id: int
    kind: str
    actor: str
    comment: int = Field(alias="comment_id")
    panel: int
    storyboard: int
    project: int
    body: str
    created_at: datetime
    read: bool

    @staticmethod
    def resolve_actor(n):
        return n.actor.username

    @staticmethod
    def resolve_panel(n):
        return n.comment.panel_id

    @staticmethod
    def resolve_storyboard(n):
        return n.comment.panel.storyboard_id

    @staticmethod
    def resolve_project(n):
        return n.comment.panel.storyboard.project_id

    @staticmethod
    def resolve_body(n):
        return n.comment.body

    @staticmethod
    def resolve_read(n):
        return n.read_at is not None


class InboxOut(Schema):
    unread: int
    items: list[NotificationOut]


class InboxReadIn(Schema):
    ids: list[Id] | None = Field(None, max_length=500)


class InboxReadOut(Schema):
    marked: int
    unread: int


def _project_detail(project, membership):
    members = Membership.objects.filter(project=project).select_related("user")
    return {
        "id": project.id, "name": project.name, "created_at": project.created_at,
        "role": membership.role, "members": list(members),
        "storyboards": list(project.storyboards.order_by("created_at")),
    }  # fmt: skip


@router.get("/projects", response={200: list[ProjectOut], **ERRORS})
def list_projects(request):
    return selectors.projects_for_user(user=request.user)


@router.post("/projects", response={201: ProjectDetail, **ERRORS})
def create_project(request, body: ProjectIn):
    project = services.project_create(user=request.user, name=body.name)
    detail = _project_detail(
        *selectors.project_get_for_member(user=request.user, project_id=project.id)
    )
    return Status(201, detail)


@router.get("/projects/{project_id}", response={200: ProjectDetail, **ERRORS})
def get_project(request, project_id: PathId):
    return _project_detail(
        *selectors.project_get_for_member(user=request.user, project_id=project_id)
    )


@router.post("/projects/{project_id}/members", response={201: MemberOut, **ERRORS})
def add_member(request, project_id: PathId, body: MemberIn):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    return Status(201, services.member_add(project=project, username=body.username, role=body.role))


def _member(request, project_id: int, member_id: int) -> Membership:
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    target = project.memberships.select_related("user").filter(pk=member_id).first()
    if target is None:
        from django.http import Http404

        raise Http404
    return target


@router.patch("/projects/{project_id}/members/{member_id}", response={200: MemberOut, **ERRORS})
def change_member(request, project_id: PathId, member_id: PathId, body: MemberPatch):
    return services.member_set_role(
        membership=_member(request, project_id, member_id), role=body.role
    )


@router.delete("/projects/{project_id}/members/{member_id}", response={204: None, **ERRORS})
def remove_member(request, project_id: PathId, member_id: PathId):
    services.member_remove(membership=_member(request, project_id, member_id))
    return Status(204, None)


@router.post("/projects/{project_id}/storyboards", response={201: StoryboardOut, **ERRORS})
def create_storyboard(request, project_id: PathId, body: StoryboardIn):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.EDIT
    )
    storyboard = services.storyboard_create(
        project=project, user=request.user, title=body.title, aspect_ratio=body.aspect_ratio
    )
    out = {**StoryboardBrief.from_orm(storyboard).dict(), "project_id": project.id,
           "aspect_ratio": storyboard.aspect_ratio, "panels": []}  # fmt: skip
    return Status(201, out)


@router.get("/storyboards/{storyboard_id}", response={200: StoryboardOut, **ERRORS})
def get_storyboard(request, storyboard_id: PathId):
    storyboard, _ = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id
    )
    return _storyboard_out(storyboard)


def _storyboard_out(storyboard) -> dict:
    return {
        "id": storyboard.id, "project_id": storyboard.project_id, "title": storyboard.title,
        "aspect_ratio": storyboard.aspect_ratio, "created_at": storyboard.created_at,
        "script_id": storyboard.script_id, "scene_id": storyboard.scene_id,
        "style_preset_id": storyboard.style_preset_id,
        "panels": list(storyboard.panels.order_by("position")),
    }  # fmt: skip


@router.post("/storyboards/{storyboard_id}/panels", response={201: PanelOut, **ERRORS})
def create_panel(request, storyboard_id: PathId, body: PanelNew):
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    return Status(
        201, services.panel_create(storyboard=storyboard, user=request.user, **body.dict())
    )


@router.patch("/panels/{panel_id}", response={200: PanelOut, **ERRORS})
def update_panel(request, panel_id: PathId, body: PanelPatch):
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    panel = services.panel_edit(panel=panel, **body.dict(exclude_unset=True))
    panel.refresh_from_db()
    return panel


@router.post("/panels/{panel_id}/duplicate", response={201: PanelOut, **ERRORS})
def duplicate_panel(request, panel_id: PathId):
    """A copy right after the panel, its selected take carried over (same image, no GPU)."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    return Status(201, services.panel_duplicate(panel=panel, user=request.user))


@router.delete("/panels/{panel_id}", response={204: None, **ERRORS})
def delete_panel(request, panel_id: PathId):
    """Off the board; kept with its takes and comments until restored."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    services.panel_delete(panel=panel, by=request.user)
    return Status(204, None)


@router.post("/panels/{panel_id}/restore", response={200: PanelOut, **ERRORS})
def restore_panel(request, panel_id: PathId):
    """Undo a delete: back where it stood. 404 for a panel that is not deleted."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, deleted=True, action=Action.EDIT
    )
    return services.panel_restore(panel=panel)


@router.get("/panels/{panel_id}/comments", response={200: list[CommentOut], **ERRORS})
def list_comments(request, panel_id: PathId):
    """Every comment, oldest first; a reply names its thread's first comment in `reply_to`."""
    panel, _ = selectors.panel_get_for_member(user=request.user, panel_id=panel_id)
    threads = selectors.comment_threads(panel=panel)
    return sorted(
        [c for t in threads for c in (t, *t.thread_replies)], key=lambda c: (c.created_at, c.id)
    )


@router.post("/panels/{panel_id}/comments", response={201: CommentOut, **ERRORS})
def add_comment(request, panel_id: PathId, body: CommentIn):
    """Any member may comment (viewers too). `take`: the take it is about (default: the one on
    the board); `reply_to`: a comment of this panel; `pin`: a point or area of the take's frame."""
    panel, _ = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.COMMENT
    )
    comment = services.comment_add(
        panel=panel, author=request.user, body=body.body, take_id=body.take,
        reply_to_id=body.reply_to, pin=body.pin.model_dump() if body.pin else None,
    )  # fmt: skip
    comment.pin_number = selectors.pin_number(comment)
    return Status(201, comment)


def _set_resolved(request, comment_id: int, resolved: bool):
    comment, membership = selectors.comment_get_for_member(user=request.user, comment_id=comment_id)
    root = services.comment_set_resolved(
        comment=comment, membership=membership, resolved=resolved, by=request.user
    )
    root.pin_number = selectors.pin_number(root)
    return root


@router.post("/comments/{comment_id}/resolve", response={200: CommentOut, **ERRORS})
def resolve_comment(request, comment_id: PathId):
    """Resolve the comment's thread (its author, or anyone who edits the board)."""
    return _set_resolved(request, comment_id, True)


@router.post("/comments/{comment_id}/reopen", response={200: CommentOut, **ERRORS})
def reopen_comment(request, comment_id: PathId):
    return _set_resolved(request, comment_id, False)


@router.get("/inbox", response={200: InboxOut, **ERRORS})
def get_inbox(request):
    """Mentions of you and replies in your threads, newest first (50)."""
    return {
        "unread": selectors.unread_count(user=request.user),
        "items": selectors.inbox(user=request.user),
    }


@router.post("/inbox/read", response={200: InboxReadOut, **ERRORS})
def read_inbox(request, body: InboxReadIn):
    """Mark the notifications `ids` read, or all of them when `ids` is left out."""
    marked = services.notifications_mark_read(user=request.user, ids=body.ids)
    return {"marked": marked, "unread": selectors.unread_count(user=request.user)}


# --- renaming and deleting boards and projects -----------------------------------------------


@router.patch("/storyboards/{storyboard_id}", response={200: StoryboardOut, **ERRORS})
def update_storyboard(request, storyboard_id: PathId, body: StoryboardPatch):
    """Rename, change the default aspect ratio; `apply_to_panels` reframes every panel too."""
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.EDIT
    )
    return _storyboard_out(
        services.storyboard_update(storyboard=storyboard, **body.dict(exclude_unset=True))
    )


@router.delete("/storyboards/{storyboard_id}", response={204: None, **ERRORS})
def delete_storyboard(request, storyboard_id: PathId):
    """Directors and owners: the board, its panels, takes (with their files) and comments."""
    storyboard, membership = selectors.storyboard_get_for_member(
        user=request.user, storyboard_id=storyboard_id, action=Action.SUPERVISE
    )
    services.storyboard_delete(storyboard=storyboard, by=request.user)
    return Status(204, None)


@router.patch("/projects/{project_id}", response={200: ProjectDetail, **ERRORS})
def update_project(request, project_id: PathId, body: ProjectPatch):
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    return _project_detail(services.project_update(project=project, name=body.name), membership)


@router.delete("/projects/{project_id}", response={204: None, **ERRORS})
def delete_project(request, project_id: PathId):
    """Owners: the project and everything in it, take files included. No undo."""
    project, membership = selectors.project_get_for_member(
        user=request.user, project_id=project_id, action=Action.MANAGE
    )
    services.project_delete(project=project, by=request.user)
    return Status(204, None)


class StatusIn(Schema):
    status: Literal[tuple(ReviewStatus.values)]


@router.post("/panels/{panel_id}/status", response={200: PanelOut, **ERRORS})
def set_panel_status(request, panel_id: PathId, body: StatusIn):
    """Anyone who edits sets `draft` or `in_review`; only directors and owners set
    `changes_requested` or `approved` (403 for other roles, viewers included)."""
    panel, membership = selectors.panel_get_for_member(
        user=request.user, panel_id=panel_id, action=Action.EDIT
    )
    return services.panel_set_status(panel=panel, membership=membership, status=body.status)
