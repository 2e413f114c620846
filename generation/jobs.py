"""RQ entry points. A job is a wake-up for a worker, never the record of a take or an export.

Each queued take (or export) gets one job when it is queued, but the worker that runs the job
decides in the database what to run (queue order, fairness, batching): see
services.take_claim_batch and export_services.export_claim. Jobs take ids, never objects.
Takes and exports have a queue each (SLATE_QUEUE, SLATE_EXPORT_QUEUE) and their own workers.
"""

import logging
import time
from collections.abc import Callable

import django_rq
from django.conf import settings
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def queue():
    return django_rq.get_queue(settings.SLATE_QUEUE)


def export_queue():
    return django_rq.get_queue(settings.SLATE_EXPORT_QUEUE)


def _wake(rq_queue, entry_point, row_id: int, noun: str) -> bool:
    """False when Redis is unreachable: the row is safe in the database, and the reconciler
    re-sends its wake-up once Redis answers again."""
    try:
        rq_queue.enqueue(entry_point, row_id, result_ttl=60, failure_ttl=3600, job_timeout=3600)
    except RedisError:
        log.warning("Redis unreachable: %s %s waits for the reconciler", noun, row_id)
        return False
    return True


def enqueue_wakeup(take_id: int) -> bool:
    return _wake(queue(), run_next, take_id, "take")


def enqueue_export_wakeup(export_id: int) -> bool:
    return _wake(export_queue(), run_next_export, export_id, "export")


def pending_wakeups() -> int:
    return queue().count


def pending_export_wakeups() -> int:
    return export_queue().count


def _serve_while_waiting(serve: Callable[[], int], budget_s: float) -> int:
    """Call `serve` while it finds work (for up to `budget_s`), skipping RQ's per-job
    bookkeeping between runs; each run's events are told before the next starts."""
    from studio.events import flush

    ran, deadline = 0, time.monotonic() + budget_s
    while time.monotonic() < deadline and (served := serve()):
        ran += served
        flush()
    return ran


def run_next(take_id: int | None = None, budget_s: float = 60.0) -> int:
    """Run batches while takes wait. `take_id` only names the take that caused the wake-up (RQ
    dashboard, logs): the database decides what runs. Returns how many takes it ran; the
    wake-ups it made redundant find nothing."""
    from .worker import engine

    return _serve_while_waiting(engine().serve, budget_s)


def run_next_export(export_id: int | None = None, budget_s: float = 60.0) -> int:
    """Run exports while they wait, in the order they were asked for (see run_next)."""
    from .export_worker import exporter

    return _serve_while_waiting(exporter().serve, budget_s)
