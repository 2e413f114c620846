"""A take is one attempt at a panel. Every take is kept, picked or not: it is the ledger.
An export is a PDF, animatic, ZIP or bundle made for people outside the studio. Both are jobs:
rows a worker claims, beats the heart of and finishes (generation/machinery.py)."""

from django.conf import settings
from django.db import models


class Tool(models.TextChoices):
    TEXT2IMAGE = "text2image", "Text to image"
    VARIATION = "variation", "Variation"
    INPAINT = "inpaint", "Inpaint"
    UPSCALE = "upscale", "Upscale"
    VIDEO = "video", "Text to video"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (Status.QUEUED, Status.RUNNING)
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class Priority(models.IntegerChoices):
    INTERACTIVE = 0, "Interactive"  # one panel, somebody is waiting
    BULK = 1, "Bulk"  # "Generate all panels"


class Job(models.Model):
    """Queue state of work a worker runs. The row is the truth; Redis only carries wake-ups."""

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)  # a sentence for people (generation/failures.py)
    # The exception, message and traceback behind `error`: for the admin, never the API.
    error_detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True)
    claim = models.CharField(max_length=64, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["queued_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=1),
                name="%(class)s_progress_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="%(class)s_status_valid"
            ),
        ]


class Take(Job):
    # What made the pixels: a retry copies exactly these.
    PARAMETERS = (
        "tool", "model_key", "model_source", "model_revision", "prompt", "negative_prompt",
        "seed", "steps", "guidance", "width", "height", "strength", "scale", "num_frames", "fps",
    )  # fmt: skip

    panel = models.ForeignKey("storyboards.Panel", on_delete=models.CASCADE, related_name="takes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="takes"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    tool = models.CharField(max_length=16, choices=Tool.choices, default=Tool.TEXT2IMAGE)

    # Everything that made the pixels, copied at request time: the panel may change later.
    model_key = models.CharField(max_length=100)
    model_source = models.CharField(max_length=300, blank=True)
    model_revision = models.CharField(max_length=100, blank=True)
    prompt = models.TextField(blank=True)
    negative_prompt = models.TextField(blank=True)
    seed = models.BigIntegerField()
    steps = models.PositiveIntegerField()
    guidance = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    strength = models.FloatField(null=True, blank=True)
    scale = models.PositiveIntegerField(null=True, blank=True)
    num_frames = models.PositiveIntegerField(null=True, blank=True)
    fps = models.PositiveIntegerField(null=True, blank=True)
    mask = models.FileField(upload_to="masks/", blank=True)
    # How the prompt above was composed (generation/prompting.py): each part's label, text and
    # tokens, and the sentences saying what was cut to fit the model's token limit.
    prompt_parts = models.JSONField(default=list, blank=True)
    prompt_cut = models.JSONField(default=list, blank=True)
    # A character's or location's picture a text-to-image take starts from (image to image at
    # `strength`). The same stored file as the character's, as a copied take shares its image.
    reference = models.FileField(upload_to="references/", blank=True)

    # Queue order; the rest of the queue state is the Job's.
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.INTERACTIVE
    )
    # What the studio decided about the request, in words (a video capped at the model's limit).
    note = models.CharField(max_length=300, blank=True)

    # Results.
    image = models.FileField(upload_to="takes/", blank=True)  # PNG; a video's poster frame
    video = models.FileField(upload_to="takes/", blank=True)  # MP4
    batch_size = models.PositiveSmallIntegerField(default=1)
    timings = models.JSONField(default=dict, blank=True)  # queue_wait_s, load_s, sampling_s, save_s
    gpu_seconds = models.FloatField(default=0.0)  # this take's share of its batch's model time

    class Meta(Job.Meta):
        indexes = [
            models.Index(fields=["status", "priority", "queued_at"]),
            models.Index(fields=["panel", "queued_at"]),
        ]

    def __str__(self):
        return f"Take {self.pk} ({self.tool}, {self.status})"

    @property
    def batch_key(self) -> tuple:
        """Takes that share this key can run in one pipeline call."""
        return (
            self.model_key,
            self.tool,
            self.width,
            self.height,
            self.steps,
            self.guidance,
            self.strength,
            self.num_frames,
            bool(self.reference),  # a referenced text-to-image take runs as image to image
        )


class ExportKind(models.TextChoices):
    PDF = "pdf", "PDF storyboard"
    ANIMATIC = "animatic", "Animatic MP4"
    ZIP = "zip", "ZIP of takes"
    BUNDLE = "bundle", "Project bundle"


class Export(Job):
    """A file made for people outside the studio, by an export worker (generation/export_worker.py)."""

    kind = models.CharField(max_length=12, choices=ExportKind.choices)
    project = models.ForeignKey(
        "storyboards.Project", on_delete=models.CASCADE, related_name="exports"
    )
    # The board exported; none for a project bundle.
    storyboard = models.ForeignKey(
        "storyboards.Storyboard", null=True, blank=True, on_delete=models.CASCADE,
        related_name="exports",
    )  # fmt: skip
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports"
    )
    options = models.JSONField(default=dict, blank=True)  # {"layout": 1|2|3}, {"panels": [ids]}
    file = models.FileField(upload_to="exports/", blank=True)
    srt = models.FileField(upload_to="exports/", blank=True)  # the animatic's subtitles
    size = models.BigIntegerField(default=0)  # bytes of `file`

    class Meta(Job.Meta):
        indexes = [
            models.Index(fields=["status", "queued_at"]),
            models.Index(fields=["storyboard", "queued_at"]),
        ]
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(kind__in=ExportKind.values), name="export_kind_valid"
            ),
            # A bundle is the whole project; every other kind is one board.
            models.CheckConstraint(
                condition=models.Q(kind=ExportKind.BUNDLE, storyboard__isnull=True)
                | (~models.Q(kind=ExportKind.BUNDLE) & models.Q(storyboard__isnull=False)),
                name="export_board_matches_kind",
            ),
        ]

    def __str__(self):
        return f"Export {self.pk} ({self.kind}, {self.status})"
