"""RQ entry points. A job is a wake-up for a worker, never the record of a take.

Each queued take gets one job when it is queued, but the worker that runs the job decides in
the database which takes to run (queue order, fairness, batching): see services.take_claim_batch.
Jobs take ids, never objects.
"""

import logging

import django_rq
from django.conf import settings
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def queue():
    return django_rq.get_queue(settings.SLATE_QUEUE)


def enqueue_wakeup(take_id: int) -> bool:
    """False when Redis is unreachable: the take is safe in the database, and the reconciler
    re-sends its wake-up once Redis answers again."""
    try:
        queue().enqueue(run_next, take_id, result_ttl=60, failure_ttl=3600, job_timeout=3600)
    except RedisError:
        log.warning("Redis unreachable: take %s waits for the reconciler", take_id)
        return False
    return True


def pending_wakeups() -> int:
    return queue().count


def run_next(take_id: int | None = None, budget_s: float = 60.0) -> int:
    """Run batches while takes wait (for up to `budget_s`), skipping RQ's per-job bookkeeping
    between them. `take_id` only names the take that caused the wake-up (RQ dashboard, logs):
    the database decides what runs. Returns how many takes it ran; the wake-ups it made redundant find nothing."""
    import time

    from studio.events import flush

    from .worker import engine

    ran, deadline = 0, time.monotonic() + budget_s
    while time.monotonic() < deadline and (served := engine().serve()):
        ran += served
        flush()  # a batch's results are told before the next batch starts
    return ran
