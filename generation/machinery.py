"""The job machinery takes and exports share: the row is the truth, Redis only carries wake-ups.

A worker claims rows with one conditional UPDATE (two workers never run the same row), proves it
is alive by touching `heartbeat_at`, and writes the end only while it still holds its claim, so a
row the reconciler took back is never overwritten by a worker presumed dead. Rows whose worker
stopped beating go back in the queue, or fail after SLATE_MAX_ATTEMPTS; the reconciler re-sends
wake-ups Redis lost. What differs (which rows a claim takes, the events people hear) stays with
the caller: generation/services.py for takes, generation/export_services.py for exports.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import Job, Status

log = logging.getLogger(__name__)


def jobs_claim(*, rows: QuerySet, worker: str, **fields) -> str:
    """Claim the queued, uncancelled rows among `rows` for `worker`; returns the claim, which
    names exactly the rows this call won (another worker may have taken some first)."""
    claim, now = uuid.uuid4().hex, timezone.now()
    rows.filter(status=Status.QUEUED, cancel_requested=False).update(
        status=Status.RUNNING, claim=claim, worker=worker, started_at=now, heartbeat_at=now,
        attempts=F("attempts") + 1, progress=0.0, **fields,
    )  # fmt: skip
    return claim


def jobs_heartbeat(
    model: type[Job], *, ids: set[int], claim: str, progress: float | None = None
) -> set[int]:
    """Touch the rows this claim still holds. Returns the ids to stop: cancel asked, or taken back."""
    fields = {"heartbeat_at": timezone.now()} | (
        {"progress": progress} if progress is not None else {}
    )
    ours = model.objects.filter(pk__in=ids, claim=claim, status=Status.RUNNING)
    ours.update(**fields)
    keep = ours.filter(cancel_requested=False).values_list("pk", flat=True)
    return ids - set(keep)


def job_holds(job: Job) -> bool:
    """Does the worker that claimed this row still hold it?"""
    return type(job).objects.filter(pk=job.pk, claim=job.claim, status=Status.RUNNING).exists()


def job_finish(job: Job, status: str, **fields) -> bool:
    """Write the end of a row, but only if its worker still holds it."""
    now = timezone.now()
    done = (
        type(job)
        .objects.filter(pk=job.pk, claim=job.claim, status=Status.RUNNING)
        .update(status=status, finished_at=now, heartbeat_at=now, **fields)
    )
    if done:
        job.refresh_from_db()
    return bool(done)


def jobs_stale(model: type[Job]) -> QuerySet:
    """Running rows whose worker has not beaten for SLATE_STALE_AFTER_S."""
    cutoff = timezone.now() - timedelta(seconds=settings.SLATE_STALE_AFTER_S)
    return model.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff)


def job_recover(job: Job) -> str | None:
    """End or re-queue one lost row, unless its worker came back meanwhile (claim checked).
    Returns its new status, or None when it was not ours to touch. Call inside a transaction,
    and tell people and re-send the wake-up there (only for Status.QUEUED)."""
    noun = type(job)._meta.verbose_name
    # People are told what happened; which machine and when is for the log and the admin.
    lost = f"The machine running this {noun} stopped answering"
    detail = (
        f"worker {job.worker or 'unknown'!r} sent no heartbeat since {job.heartbeat_at}; "
        f"attempt {job.attempts} of {settings.SLATE_MAX_ATTEMPTS}"
    )
    log.warning("%s %s: %s", noun, job.id, detail)
    if job.cancel_requested:
        error = "Cancelled; the machine running it stopped answering."
        return Status.CANCELLED if job_finish(job, Status.CANCELLED, error=error) else None
    if job.attempts >= settings.SLATE_MAX_ATTEMPTS:
        error = f"{lost}, {job.attempts} times; giving up."
        ok = job_finish(job, Status.FAILED, error=error, error_detail=detail)
        return Status.FAILED if ok else None
    ok = type(job).objects.filter(pk=job.pk, claim=job.claim, status=Status.RUNNING).update(
        status=Status.QUEUED, claim="", worker="", progress=0.0, started_at=None,
        error=f"{lost}; queued again (attempt {job.attempts + 1}).",
    )  # fmt: skip
    job.refresh_from_db()
    return Status.QUEUED if ok else None


def jobs_reconcile(
    model: type[Job], *, requeue_stale: Callable[[], list[int]],
    enqueue: Callable[[int], bool], pending: Callable[[], int],
) -> dict:  # fmt: skip
    """Make Redis agree with the database: stale rows back in line (`requeue_stale`), a wake-up
    for every queued row (Redis may have been emptied). Extra wake-ups are harmless: a worker
    that finds nothing to claim returns at once."""
    requeued = requeue_stale()
    queued = list(
        model.objects.filter(status=Status.QUEUED)
        .order_by("queued_at")
        .values_list("pk", flat=True)
    )
    missing = max(len(queued) - pending(), 0)
    for row_id in queued[:missing]:
        enqueue(row_id)
    return {"requeued": requeued, "queued": len(queued), "wakeups_added": missing}
