"""Every change to an export, and the event that tells the board about it.

An export is a job like a take (generation/machinery.py): the row is the truth, a worker on the
export queue claims it with a conditional UPDATE, beats its heart while it renders, and writes
the result only while it holds the claim. A killed export worker's export goes back in the queue.
A board's exports are told on the board's topic; a project bundle has no board, so it is polled.
"""

import logging
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.urls import reverse

from storyboards.models import Project, Storyboard
from studio.errors import TooMany
from studio.events import publish

from . import machinery
from .models import ACTIVE, Export, ExportKind, Status

log = logging.getLogger(__name__)

BOARD_KINDS = (ExportKind.PDF, ExportKind.ANIMATIC, ExportKind.ZIP)
LAYOUTS = (1, 2, 3)  # panels per row on a PDF page
DEFAULT_LAYOUT = 2
MAX_WAITING = 5  # exports one person may have queued or running at once
EXTENSIONS = {"file": {ExportKind.PDF: ".pdf", ExportKind.ANIMATIC: ".mp4",
                       ExportKind.ZIP: ".zip", ExportKind.BUNDLE: ".zip"},
              "srt": {ExportKind.ANIMATIC: ".srt"}}  # fmt: skip


def _invalid(field: str, message: str):
    return ValidationError({field: message})


def export_download_url(export: Export, part: str = "file") -> str | None:
    """Where a finished export's file (or the animatic's `srt`) is downloaded, members only."""
    if not getattr(export, part):
        return None
    url = reverse("export-download", args=[export.id])
    return url if part == "file" else f"{url}?part={part}"


def _event(export: Export, **extra) -> dict:
    return {"export": export.id, "kind": export.kind, "status": export.status, **extra}


def _tell(export: Export, event: str, **extra) -> None:
    """On the board's topic; a bundle belongs to no board (its requester polls the API)."""
    if export.storyboard_id is not None:
        publish(export.storyboard_id, event, _event(export, **extra))


# --- requests ------------------------------------------------------------------------------


def _board_options(storyboard: Storyboard, kind: str, layout, panels) -> dict:
    """Check what the kind takes; raises ValidationError with a sentence, before any write."""
    if kind not in BOARD_KINDS:
        raise _invalid("kind", f"kind must be one of {', '.join(BOARD_KINDS)}.")
    if layout is not None and kind != ExportKind.PDF:
        raise _invalid("layout", "layout (panels per row) is for PDF exports only.")
    if panels is not None and kind != ExportKind.ZIP:
        raise _invalid("panels", "panels (which takes to pack) is for ZIP exports only.")
    on_board = list(storyboard.panels.order_by("position").values_list("pk", flat=True))
    if not on_board:
        raise _invalid("kind", "This board has no panels yet: nothing to export.")
    if kind == ExportKind.PDF:
        layout = DEFAULT_LAYOUT if layout is None else layout
        if isinstance(layout, bool) or layout not in LAYOUTS:
            raise _invalid("layout", f"layout must be 1, 2 or 3 panels per row (got {layout!r}).")
        return {"layout": layout}
    if kind == ExportKind.ZIP:
        if panels is None:
            return {"panels": on_board}
        if not panels:
            raise _invalid("panels", "Choose at least one panel to pack.")
        strangers = sorted(set(panels) - set(on_board))
        if strangers:
            raise _invalid("panels", f"Not panels of this board: {strangers[:10]}.")
        return {"panels": [p for p in on_board if p in set(panels)]}  # in board order
    return {}


def _check_quota(*, requested_by) -> None:
    # The person's row lock makes requests sent at once count one after the other.
    get_user_model().objects.select_for_update().filter(pk=requested_by.pk).first()
    waiting = Export.objects.filter(requested_by=requested_by, status__in=ACTIVE).count()
    if waiting >= MAX_WAITING:
        raise TooMany({"export": f"You already have {waiting} exports on their way (at most "
                                 f"{MAX_WAITING}): let one finish first."})  # fmt: skip


def export_request(
    *, storyboard: Storyboard, requested_by, kind: str, layout: int | None = None,
    panels: list[int] | None = None,
) -> Export:  # fmt: skip
    """A PDF, animatic or ZIP of a board, queued for an export worker."""
    options = _board_options(storyboard, kind, layout, panels)
    with transaction.atomic():
        return _export_create(
            project=storyboard.project, storyboard=storyboard, requested_by=requested_by,
            kind=kind, options=options,
        )  # fmt: skip


@transaction.atomic
def project_bundle_request(*, project: Project, requested_by) -> Export:
    """The whole project as one ZIP (generation.exporters makes it), queued like any export."""
    return _export_create(project=project, storyboard=None, requested_by=requested_by,
                          kind=ExportKind.BUNDLE, options={})  # fmt: skip


def _export_create(*, project, storyboard, requested_by, kind, options) -> Export:
    _check_quota(requested_by=requested_by)
    export = Export(project=project, storyboard=storyboard, requested_by=requested_by,
                    kind=kind, options=options)  # fmt: skip
    export.full_clean()
    export.save()
    _enqueue_after_commit(export.id)
    _tell(export, "export.queued")
    return export


def _enqueue_after_commit(export_id: int) -> None:
    from .jobs import enqueue_export_wakeup

    # Queue after commit: a fast worker must never look for a row that does not exist yet.
    transaction.on_commit(lambda: enqueue_export_wakeup(export_id))


# --- the worker's side ---------------------------------------------------------------------


@transaction.atomic
def export_claim(*, worker: str) -> Export | None:
    """Claim the export asked for first, if any."""
    waiting = Export.objects.filter(status=Status.QUEUED, cancel_requested=False)
    first = list(waiting.order_by("queued_at", "id").values_list("pk", flat=True)[:1])
    claim = machinery.jobs_claim(rows=Export.objects.filter(pk__in=first), worker=worker)
    export = (
        Export.objects.filter(claim=claim)
        .select_related("project", "storyboard", "requested_by")
        .first()
    )
    if export is not None:
        _tell(export, "export.progress", progress=0.0)
    return export


def export_heartbeat(*, export: Export, progress: float | None = None) -> bool:
    """Prove the worker is alive. False when the export was taken back: stop working on it."""
    ids = {export.pk}
    return not machinery.jobs_heartbeat(Export, ids=ids, claim=export.claim, progress=progress)


def export_report_progress(*, export: Export, progress: float) -> None:
    """Live only: the dialog's bar moves for everyone on the board; the row is touched by beats."""
    _tell(export, "export.progress", progress=round(progress, 4))


def _store(export: Export, files: dict[str, Path]) -> None:
    base = f"p{export.project_id}/export-{export.id}"
    for part in ("file", "srt"):
        if part in files:
            suffix = EXTENSIONS[part].get(export.kind) or Path(files[part]).suffix
            with open(files[part], "rb") as handle:
                getattr(export, part).save(base + suffix, File(handle), save=False)


def export_succeed(*, export: Export, files: dict[str, Path]) -> bool:
    """Keep what the renderer made (`file`, and `srt` for an animatic). Files are stored before
    the transaction, and removed again if the claim was lost meanwhile."""
    if not machinery.job_holds(export):
        log.warning("export %s was taken back before it finished; result dropped", export.id)
        return False
    _store(export, files)
    size = export.file.size if export.file else 0
    with transaction.atomic():
        if machinery.job_finish(export, Status.SUCCEEDED, progress=1.0, file=export.file.name,
                                srt=export.srt.name, size=size, error=""):  # fmt: skip
            _tell(export, "export.succeeded", download_url=export_download_url(export),
                  srt_url=export_download_url(export, "srt"))  # fmt: skip
            return True
    log.warning("export %s was taken back while saving; result dropped", export.id)
    for field in (export.file, export.srt):  # leave no orphan files
        if field:
            field.storage.delete(field.name)
    return False


@transaction.atomic
def export_fail(*, export: Export, error: str, error_detail: str = "") -> bool:
    """`error` is the sentence people see; `error_detail` (traceback) is for the admin."""
    fields = {"error": error[:2000], "error_detail": error_detail[-20_000:]}
    if machinery.job_finish(export, Status.FAILED, **fields):
        _tell(export, "export.failed", error=export.error)
        return True
    return False


# --- recovery ------------------------------------------------------------------------------


@transaction.atomic
def _recover(export: Export) -> bool:
    status = machinery.job_recover(export)
    if status is None:
        return False
    if status == Status.QUEUED:
        _enqueue_after_commit(export.id)
        _tell(export, "export.queued")
    else:
        _tell(export, "export.failed", error=export.error)
    return True


def exports_requeue_stale() -> list[int]:
    """Running exports whose worker stopped beating: queued again, or failed after too many tries."""
    return [export.id for export in machinery.jobs_stale(Export) if _recover(export)]


def exports_reconcile() -> dict:
    """Stale exports back in line and a wake-up for every queued export (see machinery)."""
    from .jobs import enqueue_export_wakeup, pending_export_wakeups

    return machinery.jobs_reconcile(
        Export, requeue_stale=exports_requeue_stale, enqueue=enqueue_export_wakeup,
        pending=pending_export_wakeups,
    )  # fmt: skip
