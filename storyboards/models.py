"""Projects, their people and their boards. Takes live in generation.models."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Manager


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    DIRECTOR = "director", "Director"
    WRITER = "writer", "Writer"
    ARTIST = "artist", "Artist"
    VIEWER = "viewer", "Viewer"


class Action(models.TextChoices):
    """What a person may do in a project: one word per right, checked in one place
    (`selectors.require` and the `*_get_for_member` selectors) by pages, API and sockets."""

    READ = "read", "see this project"
    COMMENT = "comment", "comment"
    EDIT = "edit", "edit boards and panels"
    GENERATE = "generate", "generate takes"
    SUPERVISE = "supervise", "direct others' work"  # cancel anyone's take, delete storyboards
    MANAGE = "manage", "manage the project and its members"


_EDITOR = {Action.READ, Action.COMMENT, Action.EDIT, Action.GENERATE}
ROLE_ACTIONS = {
    Role.OWNER: set(Action),
    Role.DIRECTOR: _EDITOR | {Action.SUPERVISE},
    Role.WRITER: _EDITOR,
    Role.ARTIST: _EDITOR,
    Role.VIEWER: {Action.READ, Action.COMMENT},
}


class Project(models.Model):
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.user} as {self.role} in {self.project}"

    def may(self, action: Action) -> bool:
        if not isinstance(action, Action):  # a typo must fail loudly in tests, not pass as "no"
            raise TypeError(f"{action!r} is not an Action")
        return action in ROLE_ACTIONS.get(self.role, ())

    # For templates, which cannot pass an argument.
    @property
    def can_edit(self) -> bool:
        return self.may(Action.EDIT)

    @property
    def can_supervise(self) -> bool:
        return self.may(Action.SUPERVISE)

    @property
    def can_manage(self) -> bool:
        return self.may(Action.MANAGE)


class ApiToken(models.Model):
    """A bearer token for scripts. Only its hash is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"API token of {self.user} ({self.created_at:%Y-%m-%d})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


# --- Screenplay: the script is Fountain text; every save is a version ------------------------


class Script(models.Model):
    class Format(models.TextChoices):  # where the first version came from
        FOUNTAIN = "fountain", "Fountain"
        FDX = "fdx", "Final Draft (FDX)"
        PLAIN = "plain", "Plain text"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scripts")
    title = models.CharField(max_length=200)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.FOUNTAIN)
    source = models.TextField(blank=True)  # the latest version's text, always Fountain
    version = models.PositiveIntegerField(default=1)  # the latest version's number
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.title


class ScriptVersion(models.Model):
    """Every save, import, merge or restore: kept whole, so any two can be compared."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)  # "Imported from pilot.fdx", "Restored 3"
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["script", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["script", "number"], name="script_version_unique")
        ]

    def __str__(self):
        return f"{self.script} v{self.number}"


class Scene(models.Model):
    """A scene of the script's latest version. A scene cut from the script is kept (`removed`),
    so storyboards made from it keep their link and say so."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="scenes")
    element_id = models.CharField(max_length=64, blank=True)  # its heading's stable element id
    position = models.PositiveIntegerField()
    number = models.CharField(max_length=16, blank=True)
    heading = models.CharField(max_length=300)  # INT. DINER - NIGHT
    int_ext = models.CharField(max_length=8, blank=True)
    location = models.CharField(max_length=200, blank=True)
    time_of_day = models.CharField(max_length=60, blank=True)
    characters = models.JSONField(default=list, blank=True)
    estimated_seconds = models.FloatField(default=0)
    first_line = models.PositiveIntegerField(null=True, blank=True)
    last_line = models.PositiveIntegerField(null=True, blank=True)
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["script", "removed", "position"]
        indexes = [models.Index(fields=["script", "element_id"])]

    def __str__(self):
        return self.heading


class Character(models.Model):
    """Carried into every prompt that names it: consistency needs structure."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=120)  # as the script cues it: MARA
    description = models.TextField(blank=True)  # what the camera sees: age, build, clothes
    seed = models.BigIntegerField(null=True, blank=True)  # pinned: the same face take after take
    reference = models.FileField(upload_to="references/", blank=True)
    from_script = models.BooleanField(default=False)  # found in a script, not typed in

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="character_name_unique")
        ]

    def __str__(self):
        return self.name


class Location(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=120)  # as the headings name it: DINER
    description = models.TextField(blank=True)
    reference = models.FileField(upload_to="references/", blank=True)
    from_script = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="location_name_unique")
        ]

    def __str__(self):
        return self.name


class StylePreset(models.Model):
    """A look shared by a project's boards ("graphite storyboard sketch"); a panel may override."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="style_presets")
    name = models.CharField(max_length=120)
    prompt = models.TextField(blank=True)  # added to every prompt that uses the style
    negative_prompt = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="style_preset_name_unique")
        ]

    def __str__(self):
        return self.name


# --- Boards ---------------------------------------------------------------------------------


class AspectRatio(models.TextChoices):
    WIDE_239 = "2.39:1", "2.39:1 Scope"
    WIDE_185 = "1.85:1", "1.85:1 Flat"
    HD = "16:9", "16:9"
    ACADEMY = "4:3", "4:3"
    SQUARE = "1:1", "1:1"
    VERTICAL = "9:16", "9:16"


class Storyboard(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="storyboards")
    title = models.CharField(max_length=200)
    script = models.ForeignKey(
        Script, null=True, blank=True, on_delete=models.SET_NULL, related_name="storyboards"
    )
    scene = models.ForeignKey(
        Scene, null=True, blank=True, on_delete=models.SET_NULL, related_name="storyboards"
    )
    style_preset = models.ForeignKey(
        StylePreset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # New panels take the board's frame shape; a panel may still differ (an insert, a phone cut).
    aspect_ratio = models.CharField(max_length=8, choices=AspectRatio.choices, default="16:9")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.title


class ShotType(models.TextChoices):
    UNSET = "", "—"
    EXTREME_WIDE = "ews", "Extreme wide"
    WIDE = "ws", "Wide"
    FULL = "fs", "Full"
    MEDIUM = "ms", "Medium"
    MEDIUM_CLOSE = "mcu", "Medium close-up"
    CLOSE_UP = "cu", "Close-up"
    EXTREME_CLOSE_UP = "ecu", "Extreme close-up"
    OVER_THE_SHOULDER = "ots", "Over the shoulder"
    POV = "pov", "Point of view"
    INSERT = "insert", "Insert"


class CameraMove(models.TextChoices):
    STATIC = "static", "Static"
    PAN = "pan", "Pan"
    TILT = "tilt", "Tilt"
    DOLLY = "dolly", "Dolly"
    TRUCK = "truck", "Truck"
    CRANE = "crane", "Crane"
    ZOOM = "zoom", "Zoom"
    HANDHELD = "handheld", "Handheld"
    STEADICAM = "steadicam", "Steadicam"


class ScriptStatus(models.TextChoices):
    UNLINKED = "", "Not linked"
    LINKED = "linked", "Linked"
    CHANGED = "changed", "Script changed"
    REMOVED = "removed", "Removed from script"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"


# Who may set each status: anyone who edits asks for review (or takes a panel back to draft);
# only those who supervise (directors, owners) request changes or approve.
STATUS_ACTION = {
    ReviewStatus.DRAFT: Action.EDIT,
    ReviewStatus.IN_REVIEW: Action.EDIT,
    ReviewStatus.CHANGES_REQUESTED: Action.SUPERVISE,
    ReviewStatus.APPROVED: Action.SUPERVISE,
}


class LivePanels(models.Manager):
    """Panels on the board. A deleted panel is kept (with its takes and comments) so that undo
    brings it back whole; only `Panel.all_objects` sees it."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Panel(models.Model):
    storyboard = models.ForeignKey(Storyboard, on_delete=models.CASCADE, related_name="panels")
    position = models.PositiveIntegerField()
    prompt = models.TextField(blank=True)
    negative_prompt = models.TextField(blank=True)
    shot_type = models.CharField(max_length=8, choices=ShotType.choices, blank=True, default="")
    camera_move = models.CharField(
        max_length=12, choices=CameraMove.choices, default=CameraMove.STATIC
    )
    action = models.TextField(blank=True)
    dialogue = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=2000)
    aspect_ratio = models.CharField(max_length=8, choices=AspectRatio.choices, default="16:9")
    selected_take = models.ForeignKey(
        "generation.Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scene = models.ForeignKey(
        Scene, null=True, blank=True, on_delete=models.SET_NULL, related_name="panels"
    )
    # The script elements the panel came from, re-mapped on every save of the script: their
    # stable ids, the text the panel took from them, and whether the script still says it.
    script_elements = models.JSONField(default=list, blank=True)
    script_text = models.TextField(blank=True)
    script_status = models.CharField(
        max_length=8, choices=ScriptStatus.choices, blank=True, default=""
    )
    script_first_line = models.PositiveIntegerField(null=True, blank=True)
    script_last_line = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT, db_index=True
    )
    style_preset = models.ForeignKey(  # overrides the board's style for this panel
        StylePreset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deleted panels leave the board but not the database; `position` then says where it stood.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    all_objects = Manager()
    objects = LivePanels()

    class Meta:
        default_manager_name = "objects"  # storyboard.panels: the panels on the board
        base_manager_name = "all_objects"  # a take of a deleted panel still reaches its panel
        ordering = ["storyboard", "position"]
        indexes = [models.Index(fields=["storyboard", "position"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_ms__gte=100) & models.Q(duration_ms__lte=600_000),
                name="panel_duration_range",
            )
        ]

    def __str__(self):
        return f"Panel {self.position + 1} of {self.storyboard}"

    @property
    def aspect_css(self) -> str:
        """'2.39:1' -> '2.39 / 1', for CSS aspect-ratio."""
        return self.aspect_ratio.replace(":", " / ")


class Comment(models.Model):
    """A note on a panel. It belongs to the take it was made on (new takes do not orphan it), may
    be pinned at a point or a rectangle of that take's frame (normalized 0..1), and may answer
    another comment: threads are one level deep, a reply to a reply joins its thread's root."""

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="comments")
    take = models.ForeignKey(
        "generation.Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    pin_x = models.FloatField(null=True, blank=True)
    pin_y = models.FloatField(null=True, blank=True)
    pin_w = models.FloatField(null=True, blank=True)  # a rectangle; a point has none
    pin_h = models.FloatField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # A thread is resolved as a whole, on its root; reopening clears both.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pin_x__isnull=True)
                | (models.Q(pin_x__gte=0, pin_x__lte=1, pin_y__gte=0, pin_y__lte=1)),
                name="comment_pin_inside_frame",
            ),
        ]

    def __str__(self):
        return f"{self.author}: {self.body[:40]}"

    @property
    def pinned(self) -> bool:
        return self.pin_x is not None

    @property
    def is_area(self) -> bool:
        return self.pin_w is not None


class Notification(models.Model):
    """One line of a person's inbox: they were mentioned, or someone answered their thread."""

    class Kind(models.TextChoices):
        MENTION = "mention", "mentioned you"
        REPLY = "reply", "replied to your comment"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(fields=["user", "comment"], name="one_notification_per_comment")
        ]

    def __str__(self):
        return f"{self.actor} {self.get_kind_display()} ({self.user})"


class StatusChange(models.Model):
    """Every review decision, kept: who asked for review, who approved, when (the ledger and
    the credits read these)."""

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=20, choices=ReviewStatus.choices)
    previous = models.CharField(max_length=20, choices=ReviewStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.panel}: {self.previous} -> {self.status}"
