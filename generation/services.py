"""Every change to a take, and the event that tells everyone about it.

The database row is the truth; Redis only carries wake-ups for workers (see jobs.py). A worker
claims takes with a conditional UPDATE, so two workers never run the same take, and every write
from a worker is conditional on its claim, so a take taken back by the reconciler is never
overwritten by a worker that was presumed dead.
"""

import base64
import binascii
import logging
import random

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from storyboards.models import Action, Panel, Storyboard
from studio.errors import Conflict, TooMany
from studio.events import publish

from . import machinery, media
from .models import ACTIVE, Priority, Status, Take, Tool
from .prompting import compose
from .registry import ModelSpec, default_model, model_get
from .selectors import queue_in_order, queue_positions

log = logging.getLogger(__name__)

# Request limits, defined once: the API schema and the inspector read them from here. A model's
# own limits (size, steps, frames, work) come from its registry entry (generation/registry.py).
SEED_RANGE = (0, 2**63 - 1)
GUIDANCE_RANGE = (0.0, 30.0)
STRENGTH_RANGE = (0.0, 1.0)
FPS_RANGE = (1, 60)
MIN_FRAMES = 2
MAX_SEED = SEED_RANGE[1]
IMAGE_PARENT_TOOLS = (Tool.VARIATION, Tool.INPAINT, Tool.UPSCALE)


def _invalid(field: str, message: str):
    return ValidationError({field: message})


def _event(take: Take, **extra) -> dict:
    return {"storyboard": take.panel.storyboard_id, "panel": take.panel_id, "take": take.id,
            "status": take.status, **extra}  # fmt: skip


# --- requests ------------------------------------------------------------------------------


def _resolve_model(
    tool: str, model: str | None, parent: Take | None, scale: int | None
) -> ModelSpec:
    if model is None and tool == Tool.UPSCALE:
        base = model_get(parent.model_key) if parent else None
        upscalers = (base.upscalers if base else {}) or default_model().upscalers
        model = upscalers.get(scale or 2)
        if model is None:
            raise _invalid("scale", f"No {scale}x upscaler is registered; choose 2 or 4.")
    spec = model_get(model) if model else default_model()
    if spec is None:
        raise _invalid(
            "model", f"Unknown model {model!r}. Registered: {', '.join(settings.SLATE_MODELS)}."
        )
    if tool == Tool.UPSCALE and scale is not None and spec.scale != scale:
        raise _invalid("scale", f"{spec.key} upscales {spec.scale}x, not {scale}x.")
    if tool not in spec.tools:
        raise _invalid(
            "tool", f"Model {spec.key!r} cannot do {tool}; it does {', '.join(spec.tools)}."
        )
    return spec


def model_for_prompt(model: str | None) -> ModelSpec:
    """The model whose token limit a shown "prompt as sent" is fitted to (text to image)."""
    return _resolve_model(Tool.TEXT2IMAGE, model, None, None)


def _check_range(field: str, value, low, high, what: str = "") -> None:
    if not low <= value <= high:
        raise _invalid(field, f"{field} must be between {low} and {high}{what} (got {value}).")


def _check_size(spec: ModelSpec, width: int, height: int) -> None:
    low, high = spec.limits.get("min_size", 8), spec.limits.get("max_size", 1024)
    for field, value in (("width", width), ("height", height)):
        _check_range(field, value, low, high, f" for {spec.key}")
        if value % 8:
            raise _invalid(field, f"{field} must be a multiple of 8 (got {value}).")


def _parent_for(panel: Panel, tool: str, parent_take: int | None) -> Take | None:
    if tool not in IMAGE_PARENT_TOOLS:
        return None
    if parent_take is None:
        raise _invalid("parent_take", f"{tool} needs parent_take: the take to start from.")
    parent = (
        Take.objects.filter(
            pk=parent_take, panel__storyboard__project_id=panel.storyboard.project_id
        )
        .select_related("panel")
        .first()
    )
    if parent is None:
        raise _invalid("parent_take", "No such take in this project.")
    if parent.status != Status.SUCCEEDED or not parent.image:
        raise _invalid(
            "parent_take", f"Take {parent.id} has no image to work from (it {parent.status})."
        )
    return parent


def _decode_mask(mask_b64: str | None, width: int, height: int) -> bytes:
    if not mask_b64:
        raise _invalid("mask", "inpaint needs a mask: a PNG, base64, white where to repaint.")
    if "," in mask_b64[:100]:  # tolerate a data: URL prefix from a canvas
        mask_b64 = mask_b64.split(",", 1)[1]
    try:
        data = base64.b64decode(mask_b64, validate=True)
        media.decode_image(data, size=(width, height))
    except media.WrongSize as wrong:
        raise _invalid(
            "mask", f"The mask is {wrong.size[0]}x{wrong.size[1]}; the take is {width}x{height}."
        ) from None
    except (binascii.Error, ValueError):
        raise _invalid("mask", "The mask is not a base64-encoded PNG image.") from None
    return data


def _frame_size(aspect: str, width: int, height: int, max_size: int) -> tuple[int, int]:
    """The model's default size reshaped to the panel's aspect ratio, on the 8 px grid:
    the short side keeps the default, the long side grows (within the model's limit)."""
    across, down = (float(part) for part in aspect.split(":"))
    short = min(width, height)
    long = min(max_size, max(8, round(short * max(across, down) / min(across, down) / 8) * 8))
    return (long, short) if across >= down else (short, long)


def _take_params(
    spec: ModelSpec, tool: str, parent: Take | None, options: dict, aspect: str, duration_ms: int
) -> dict:
    """Fill defaults from the registry and check every limit; raises ValidationError."""
    get = _getter(options)
    params = {
        "seed": get("seed", random.randrange(2**32)),
        "steps": get("steps", spec.defaults.get("steps", 4)),
        "guidance": get("guidance", spec.defaults.get("guidance", 5.0)),
    }
    _check_range("seed", params["seed"], *SEED_RANGE)
    _check_range("steps", params["steps"], 1, spec.limits.get("max_steps", 50), f" for {spec.key}")
    _check_range("guidance", params["guidance"], *GUIDANCE_RANGE)
    params["width"], params["height"] = _size(spec, tool, parent, options, aspect)
    _check_size(spec, params["width"], params["height"])
    params |= _tool_params(spec, tool, options, params["steps"], duration_ms)
    _check_work(spec, params)
    return params


def _check_work(spec: ModelSpec, params: dict) -> None:
    """Refuse what the model cannot finish before its timeout: steps x pixels (x frames) is the
    work, `max_step_pixels` in the registry its budget (measured against `timeout_s`)."""
    budget = spec.limits.get("max_step_pixels")
    if budget is None:
        return
    pixels = params["width"] * params["height"] * (params.get("num_frames") or 1)
    if params["steps"] * pixels > budget:
        most = max(budget // pixels, 0)
        raise _invalid(
            "steps",
            f"{params['width']}x{params['height']} at {params['steps']} steps is more than "
            f"{spec.key} can finish within its {spec.timeout_s:g} s limit: use at most {most} "
            f"steps at this size, or a smaller frame.",
        )


def _getter(options: dict):
    """options[name], or the default when the caller left it out."""
    return lambda name, default: default if options.get(name) is None else options[name]


def _size(spec: ModelSpec, tool: str, parent: Take | None, options: dict, aspect: str) -> tuple:
    if tool in IMAGE_PARENT_TOOLS:  # works on the parent's pixels, at the parent's size
        for name in ("width", "height"):
            if options.get(name) not in (None, getattr(parent, name)):
                message = (
                    f"{tool} works at the parent take's size ({parent.width}x{parent.height})."
                )
                raise _invalid(name, message)
        return parent.width, parent.height
    d = spec.defaults
    framed = _frame_size(
        aspect, d.get("width", 64), d.get("height", 64), spec.limits.get("max_size", 1024)
    )
    get = _getter(options)
    return get("width", framed[0]), get("height", framed[1])


def _tool_params(spec: ModelSpec, tool: str, options: dict, steps: int, duration_ms: int) -> dict:
    """What only some tools take: strength, scale, frames."""
    get, d = _getter(options), spec.defaults
    if tool in (Tool.VARIATION, Tool.INPAINT):
        strength = get("strength", d.get("strength", 0.6))
        _check_range("strength", strength, *STRENGTH_RANGE)
        if int(steps * strength) < 1:
            raise _invalid("strength", "steps x strength must be at least 1 step.")
        return {"strength": strength}
    if tool == Tool.UPSCALE:
        return {"scale": spec.scale}
    if tool == Tool.VIDEO:
        fps, limit = get("fps", d.get("fps", 8)), spec.limits.get("max_frames", 16)
        _check_range("fps", fps, *FPS_RANGE)
        if options.get("num_frames") is not None:  # asked for: honoured or refused
            _check_range("num_frames", options["num_frames"], MIN_FRAMES, limit, f" for {spec.key}")
            return {"num_frames": options["num_frames"], "fps": fps}
        # By default the clip lasts as long as the panel, within the model's frame limit.
        wanted = max(2, round(duration_ms / 1000 * fps))
        frames = min(wanted, limit)
        note = (
            f"Capped at {frames} frames ({frames / fps:.1f} s of the panel's "
            f"{duration_ms / 1000:g} s): {spec.key} makes at most {limit} frames."
            if wanted > limit
            else ""
        )
        return {"num_frames": frames, "fps": fps, "note": note}
    return {}


def take_request(
    *, panel: Panel, author, tool: str = Tool.TEXT2IMAGE, model: str | None = None,
    parent_take: int | None = None, mask: str | None = None, scale: int | None = None,
    seed: int | None = None, steps: int | None = None, guidance: float | None = None,
    width: int | None = None, height: int | None = None, strength: float | None = None,
    num_frames: int | None = None, fps: int | None = None, use_references: bool = True,
    priority: int = Priority.INTERACTIVE, in_bulk_run: bool = False,
) -> Take:  # fmt: skip
    """Check everything first, outside any transaction (decoding a mask takes time and must not
    hold the database for others), then write the take in one.

    The prompt sent is composed (generation/prompting.py): the panel's prompt with its shot,
    camera, cast, location and style, within the model's token limit. A character may pin the
    seed (when the caller gives none) and, with `use_references`, a character's or location's
    picture makes a text-to-image take start from it (image to image)."""
    if tool not in Tool.values:
        raise _invalid("tool", f"tool must be one of {', '.join(Tool.values)}.")
    # None means "the model's default"; a misspelled option is a TypeError, never ignored.
    options = {"seed": seed, "steps": steps, "guidance": guidance, "width": width,
               "height": height, "strength": strength, "num_frames": num_frames, "fps": fps}  # fmt: skip
    parent = _parent_for(panel, tool, parent_take)
    spec = _resolve_model(tool, model, parent, scale)
    prompt = panel.prompt if tool != Tool.UPSCALE else parent.prompt
    if not prompt.strip():
        raise _invalid("prompt", "This panel has no prompt yet: describe the shot, then generate.")
    if (
        len(prompt) > settings.SLATE_MAX_PROMPT
        or len(panel.negative_prompt) > settings.SLATE_MAX_PROMPT
    ):
        raise _invalid("prompt", f"Use at most {settings.SLATE_MAX_PROMPT} characters in a prompt.")
    sent, notes = _prompt_sent(panel, tool, spec, parent, options, use_references)
    params = _take_params(spec, tool, parent, options, panel.aspect_ratio, panel.duration_ms)
    if sent["reference"]:  # image to image from the reference: as much repainting as asked
        params |= _tool_params(spec, Tool.VARIATION, {**options, "strength": 0.75 if strength is None else strength},
                               params["steps"], panel.duration_ms)  # fmt: skip
    params["note"] = " ".join(filter(None, [params.get("note", ""), *notes]))[:300]
    mask_png = (
        _decode_mask(mask, params["width"], params["height"]) if tool == Tool.INPAINT else None
    )
    with transaction.atomic():
        return _take_create(
            panel=panel, author=author, parent=parent, tool=tool, priority=priority, spec=spec,
            sent=sent, params=params, mask_png=mask_png, in_bulk_run=in_bulk_run,
        )  # fmt: skip


def _prompt_sent(
    panel: Panel, tool: str, spec: ModelSpec, parent: Take | None, options: dict,
    use_references: bool,
) -> tuple[dict, list[str]]:  # fmt: skip
    """The take's prompt fields, and notes on what the composition decided. Sets a pinned seed
    in `options` when the caller gave none."""
    if tool == Tool.UPSCALE:  # enlarges the parent's pixels, described by the parent's prompt
        return {"prompt": parent.prompt, "negative_prompt": panel.negative_prompt,
                "prompt_parts": parent.prompt_parts, "prompt_cut": parent.prompt_cut,
                "reference": ""}, []  # fmt: skip
    composition = compose(panel, model_spec=spec)
    notes = []
    if options["seed"] is None and composition.seed is not None:
        options["seed"] = composition.seed
        notes.append(f"Seed pinned by {composition.seed_from}.")
    reference = ""
    if use_references and tool == Tool.TEXT2IMAGE and composition.reference:
        who = composition.reference_from
        if Tool.VARIATION in spec.tools:
            reference = composition.reference
            notes.append(f"Conditioned on {who}'s reference image.")
        else:
            notes.append(f"{who}'s reference image was not used: {spec.key} cannot start from "
                         "a picture.")  # fmt: skip
    sent = {"prompt": composition.text, "negative_prompt": composition.negative,
            "prompt_parts": composition.parts, "prompt_cut": composition.cut,
            "reference": reference}  # fmt: skip
    return sent, notes


def _check_quota(*, panel: Panel, author, adding: int = 1) -> None:
    """At most SLATE_MAX_WAITING_PER_PANEL takes waiting per member and panel, and
    SLATE_MAX_WAITING in all. The panel's row lock makes concurrent requests count one by one."""
    Panel.objects.select_for_update().filter(pk=panel.pk).first()
    waiting = Take.objects.filter(author=author, status__in=ACTIVE)
    if waiting.filter(panel=panel).count() + 1 > settings.SLATE_MAX_WAITING_PER_PANEL:
        raise TooMany({"take": f"You already have {settings.SLATE_MAX_WAITING_PER_PANEL} takes "
                               "waiting on this panel: let one finish or cancel one first."})  # fmt: skip
    if waiting.count() + adding > settings.SLATE_MAX_WAITING:
        raise TooMany({"take": f"You already have {waiting.count()} takes waiting (at most "
                               f"{settings.SLATE_MAX_WAITING}): let some finish first."})  # fmt: skip


def _take_create(
    *, panel, author, parent, tool, priority, spec, sent, params, mask_png, in_bulk_run
) -> Take:
    if not in_bulk_run:  # a bulk run counts its quota once, and announces itself once
        _check_quota(panel=panel, author=author)
    take = Take.objects.create(
        panel=panel, author=author, parent=parent, tool=tool, priority=priority,
        model_key=spec.key, model_source=spec.source, model_revision=spec.revision or "",
        **sent, **params,
    )  # fmt: skip
    if mask_png:
        take.mask.save(f"take-{take.id}-mask.png", ContentFile(mask_png), save=True)
    if not in_bulk_run:
        _announce_queued(take)
    return take


def _announce_queued(take: Take) -> None:
    _enqueue_after_commit(take.id)
    publish(take.panel.storyboard_id, "take.queued", _event(take))
    queue_publish()


@transaction.atomic
def storyboard_generate_all(*, storyboard: Storyboard, author) -> list[Take]:
    """A bulk take for every panel with a prompt and nothing already on its way."""
    busy = Take.objects.filter(panel__storyboard=storyboard, status__in=ACTIVE).values("panel_id")
    panels = list(storyboard.panels.exclude(prompt="").exclude(pk__in=busy).order_by("position"))
    waiting = Take.objects.filter(author=author, status__in=ACTIVE).count()
    if waiting + len(panels) > settings.SLATE_MAX_WAITING:
        raise TooMany({"take": f"{len(panels)} more takes would make {waiting + len(panels)} waiting "
                               f"(at most {settings.SLATE_MAX_WAITING}): let some finish first."})  # fmt: skip
    takes = [
        take_request(panel=p, author=author, priority=Priority.BULK, in_bulk_run=True)
        for p in panels
    ]
    for take in takes:
        _enqueue_after_commit(take.id)
        publish(storyboard.id, "take.queued", _event(take))
    queue_publish()  # once for the whole run, not once per panel
    return takes


@transaction.atomic
def storyboard_cancel_bulk(*, storyboard: Storyboard, by, membership) -> int:
    """Cancel the board's waiting "Generate all" takes this person may cancel (their own, or
    everyone's for directors and owners). Queued ones stop at once, running ones at their next
    step. Returns how many were asked to stop."""
    mine = Take.objects.filter(panel__storyboard=storyboard, priority=Priority.BULK)
    if not membership.may(Action.SUPERVISE):
        mine = mine.filter(author=by)
    now = timezone.now()
    queued = list(mine.filter(status=Status.QUEUED).values_list("pk", flat=True))
    Take.objects.filter(pk__in=queued, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=now, error="Cancelled before it started (cancel all)."
    )
    running = list(
        mine.filter(status=Status.RUNNING, cancel_requested=False).values_list("pk", flat=True)
    )
    Take.objects.filter(pk__in=running).update(cancel_requested=True)
    for take in Take.objects.filter(pk__in=queued + running).select_related("panel"):
        event = "take.cancelled" if take.pk in queued else "take.cancel_requested"
        publish(storyboard.id, event, _event(take))
    if queued:
        queue_publish()
    return len(queued) + len(running)


@transaction.atomic
def take_retry(*, take: Take, author) -> Take:
    if take.status not in (Status.FAILED, Status.CANCELLED):
        raise Conflict(
            {"take": f"Only a failed or cancelled take can be retried (this one {take.status})."}
        )
    same = _same_pixels(take)
    _check_quota(panel=take.panel, author=author)
    retry = Take.objects.create(
        panel=take.panel, author=author, parent=take.parent, retry_of=take, priority=take.priority,
        mask=take.mask.name, note=take.note, **same,
    )  # fmt: skip
    _announce_queued(retry)
    return retry


@transaction.atomic
def take_cancel(*, take: Take, by, membership) -> Take:
    if take.author_id != by.id and not membership.may(Action.SUPERVISE):
        raise PermissionDenied("Only the take's author, a director or an owner can cancel it.")
    if take.status not in ACTIVE:
        raise Conflict({"take": f"Take {take.id} already {take.status}."})
    # Queued: it simply leaves the queue. Running: the worker stops it at its next step.
    if Take.objects.filter(pk=take.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=timezone.now(), error="Cancelled before it started."
    ):
        take.refresh_from_db()
        publish(take.panel.storyboard_id, "take.cancelled", _event(take))
        queue_publish()
    else:
        Take.objects.filter(pk=take.pk, status=Status.RUNNING).update(cancel_requested=True)
        take.refresh_from_db()
        publish(take.panel.storyboard_id, "take.cancel_requested", _event(take))
    return take


def take_copy(*, take: Take, panel: Panel, author) -> Take:
    """A finished take carried to another panel (a duplicated panel keeps its picture): same
    parameters and files, `parent` the original, so the lineage stays visible. No GPU time."""
    fields = _same_pixels(take)
    return Take.objects.create(
        panel=panel, author=author, parent=take, status=Status.SUCCEEDED, progress=1.0,
        image=take.image.name, video=take.video.name, note=f"Copied from take {take.id}",
        started_at=timezone.now(), finished_at=timezone.now(), **fields,
    )  # fmt: skip


def _same_pixels(take: Take) -> dict:
    """What made the take's pixels, and how its prompt was composed: a retry or a copy keeps
    them all (the panel, its cast or its style may have changed since)."""
    return {
        **{name: getattr(take, name) for name in Take.PARAMETERS},
        "prompt_parts": take.prompt_parts, "prompt_cut": take.prompt_cut,
        "reference": take.reference.name,
    }  # fmt: skip


# --- queue ---------------------------------------------------------------------------------


def queue_publish() -> None:
    """Tell each storyboard with waiting takes where they stand (after the commit)."""

    def send():
        by_board: dict[int, dict] = {}
        for take_id, (position, board) in queue_positions().items():
            by_board.setdefault(board, {})[str(take_id)] = position
        for board, positions in by_board.items():
            publish(board, "queue.updated", {"storyboard": board, "positions": positions})

    transaction.on_commit(send)


def take_claim_batch(*, worker: str) -> list[Take]:
    """Claim the next take in queue order plus waiting takes it can share a pipeline call with."""
    with transaction.atomic():
        waiting = list(queue_in_order().select_related("panel")[:500])
        if not waiting:
            return []
        head = waiting[0]
        spec = model_get(head.model_key)
        limit = spec.max_batch if spec else 1
        batch = [t.id for t in waiting if t.batch_key == head.batch_key][:limit]
        claim = machinery.jobs_claim(
            rows=Take.objects.filter(pk__in=batch), worker=worker, batch_size=len(batch)
        )
        takes = list(
            Take.objects.filter(claim=claim).select_related(
                "panel__storyboard__project", "parent", "author"
            )
        )
        if len(takes) != len(batch):  # another worker got some of them first
            Take.objects.filter(claim=claim).update(batch_size=len(takes))
            for take in takes:
                take.batch_size = len(takes)
        for take in takes:
            publish(take.panel.storyboard_id, "take.started", _event(take, worker=worker))
        queue_publish()
    return takes


def take_report_progress(
    *, takes: list[Take], progress: float, previews: list[bytes] | None
) -> None:
    """Live only: the bar and the forming image reach every viewer; the row is touched elsewhere."""
    for i, take in enumerate(takes):
        data = _event(take, progress=round(progress, 4))
        publish(take.panel.storyboard_id, "take.progress", data)
        if previews:
            jpeg = base64.b64encode(previews[i]).decode()
            publish(take.panel.storyboard_id, "take.preview", {**data, "jpeg": jpeg})


def takes_heartbeat(*, takes: list[Take], progress: float | None = None) -> set[int]:
    """Prove the worker is alive. Returns the ids it should stop: cancel asked, or taken back."""
    ids = {t.pk for t in takes}
    return machinery.jobs_heartbeat(Take, ids=ids, claim=takes[0].claim, progress=progress)


def _finish(take: Take, status: str, **fields) -> bool:
    """Write the end of a take, but only if this worker still holds it."""
    return machinery.job_finish(take, status, **fields)


def take_succeed(
    *, take: Take, png: bytes, mp4: bytes | None, timings: dict, gpu_seconds: float
) -> bool:
    if not machinery.job_holds(take):
        log.warning("take %s was taken back before it finished; result dropped", take.id)
        return False
    # Files first, outside the transaction: a slow upload must not hold the database.
    name = f"p{take.panel.storyboard.project_id}/take-{take.id}"
    take.image.save(f"{name}.png", ContentFile(png), save=False)
    if mp4:
        take.video.save(f"{name}.mp4", ContentFile(mp4), save=False)
    with transaction.atomic():
        if _finish(take, Status.SUCCEEDED, progress=1.0, image=take.image.name, video=take.video.name,
                   timings=timings, gpu_seconds=gpu_seconds, error=""):  # fmt: skip
            # The newest image is what the panel shows; earlier picks stay one click away.
            Panel.all_objects.filter(pk=take.panel_id).update(
                selected_take=take, updated_at=timezone.now()
            )
            publish(take.panel.storyboard_id, "take.succeeded", _event(take))
            return True
    log.warning("take %s was taken back while saving; result dropped", take.id)
    for field in (take.image, take.video):  # leave no orphan files
        if field:
            field.storage.delete(field.name)
    return False


def take_fail(
    *, take: Take, error: str, error_detail: str = "", timings: dict | None = None,
    gpu_seconds: float = 0.0,
) -> bool:  # fmt: skip
    """`error` is the sentence people see (generation/failures.py); `error_detail` what the admin
    sees: type, message, traceback. Its end is kept, where a traceback names the exception."""
    fields = {"error": error[:2000], "error_detail": error_detail[-20_000:],
              "timings": timings or take.timings, "gpu_seconds": gpu_seconds}  # fmt: skip
    if _finish(take, Status.FAILED, **fields):
        publish(take.panel.storyboard_id, "take.failed", _event(take, error=take.error))
        return True
    return False


def take_mark_cancelled(*, take: Take, gpu_seconds: float = 0.0) -> bool:
    if _finish(take, Status.CANCELLED, error="Cancelled while running.", gpu_seconds=gpu_seconds):
        publish(take.panel.storyboard_id, "take.cancelled", _event(take))
        return True
    return False


# --- recovery ------------------------------------------------------------------------------


def takes_requeue_stale() -> list[int]:
    """Running takes whose worker stopped beating: back in the queue, or failed after too many tries."""
    stale = machinery.jobs_stale(Take).select_related("panel")
    touched = [take.id for take in stale if _recover(take)]
    if touched:
        queue_publish()
    return touched


_RECOVERED = {Status.QUEUED: "take.queued", Status.FAILED: "take.failed",
              Status.CANCELLED: "take.cancelled"}  # fmt: skip


@transaction.atomic
def _recover(take: Take) -> bool:
    """End or re-queue one lost take, unless its worker came back meanwhile (claim checked)."""
    status = machinery.job_recover(take)
    if status is None:
        return False
    if status == Status.QUEUED:
        _enqueue_after_commit(take.id)
    publish(take.panel.storyboard_id, _RECOVERED[status], _event(take, error=take.error))
    return True


def _enqueue_after_commit(take_id: int) -> None:
    from .jobs import enqueue_wakeup

    transaction.on_commit(lambda: enqueue_wakeup(take_id))


def takes_reconcile() -> dict:
    """Make Redis agree with the database: stale takes back in line, a wake-up for every
    queued take (Redis may have been emptied)."""
    from .jobs import enqueue_wakeup, pending_wakeups

    return machinery.jobs_reconcile(
        Take, requeue_stale=takes_requeue_stale, enqueue=enqueue_wakeup, pending=pending_wakeups
    )
