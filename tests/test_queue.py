"""Queue order, fairness, batching and reconciliation, against the real Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import jobs, services
from generation.models import Priority, Take
from generation.selectors import queue_in_order, queue_positions
from storyboards import services as boards

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_queue():
    jobs.queue().empty()
    yield
    jobs.queue().empty()


def ask(panel, author, priority=Priority.INTERACTIVE, **options):
    return services.take_request(panel=panel, author=author, priority=priority, **options)


def test_interactive_goes_ahead_of_bulk(panel, dana, arti):
    bulk = [ask(panel, dana, Priority.BULK) for _ in range(3)]
    single = ask(panel, arti)
    assert list(queue_in_order().values_list("id", flat=True))[0] == single.id
    assert queue_positions()[bulk[0].id][0] == 2


def test_bulk_is_fair_across_people(panel, dana, arti):
    dana_bulk = [ask(panel, dana, Priority.BULK) for _ in range(5)]
    arti_bulk = [ask(panel, arti, Priority.BULK) for _ in range(2)]
    order = list(queue_in_order().values_list("id", flat=True))
    # Round-robin: arti's first bulk take runs second, not after all five of dana's.
    assert order[:4] == [dana_bulk[0].id, arti_bulk[0].id, dana_bulk[1].id, arti_bulk[1].id]


def test_a_200_panel_bulk_run_does_not_starve_a_single_take(storyboard, dana, arti, panel):
    for i in range(200):
        boards.panel_create(storyboard=storyboard, user=dana, prompt=f"shot {i}")
    queued = services.storyboard_generate_all(storyboard=storyboard, author=dana)
    assert len(queued) == 201
    single = ask(panel, arti)
    assert queue_positions()[single.id][0] == 1
    late_bulk = ask(panel, arti, Priority.BULK)
    assert queue_positions()[late_bulk.id][0] == 3  # after single and dana's first bulk take


def test_claim_batches_compatible_takes_up_to_the_model_limit(panel, dana, settings):
    settings.SLATE_MODELS = {
        **settings.SLATE_MODELS,
        "tiny": {
            **settings.SLATE_MODELS["tiny"],
            "limits": {**settings.SLATE_MODELS["tiny"]["limits"], "max_batch": 3},
        },
    }
    same = [ask(panel, dana, seed=i) for i in range(4)]
    other_size = ask(panel, dana, width=128)
    claimed = services.take_claim_batch(worker="w1")
    assert [t.id for t in claimed] == [t.id for t in same[:3]]
    assert {t.status for t in claimed} == {"running"} and {t.batch_size for t in claimed} == {3}
    assert len({t.claim for t in claimed}) == 1
    second = services.take_claim_batch(worker="w2")
    assert [t.id for t in second] == [same[3].id]  # 64px batch key comes first in queue order
    assert [t.id for t in services.take_claim_batch(worker="w3")] == [other_size.id]
    assert services.take_claim_batch(worker="w4") == []


def test_two_workers_never_claim_the_same_take(panel, dana):
    take = ask(panel, dana)
    first = services.take_claim_batch(worker="a")
    second = services.take_claim_batch(worker="b")
    assert [t.id for t in first] == [take.id] and second == []


def test_each_queued_take_gets_a_wakeup_and_reconcile_restores_lost_ones(
    panel, dana, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        takes = [ask(panel, dana) for _ in range(3)]
    assert jobs.pending_wakeups() == 3
    jobs.queue().empty()  # Redis lost everything
    with django_capture_on_commit_callbacks(execute=True):
        assert services.takes_reconcile()["wakeups_added"] == 3
    assert jobs.pending_wakeups() == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert services.takes_reconcile()["wakeups_added"] == 0  # no duplicates
    assert Take.objects.filter(pk__in=[t.pk for t in takes], status="queued").count() == 3


def test_stale_running_take_is_requeued_then_failed_after_max_attempts(
    panel, dana, settings, django_capture_on_commit_callbacks
):
    take = ask(panel, dana)
    for attempt in range(1, settings.SLATE_MAX_ATTEMPTS + 1):
        [claimed] = services.take_claim_batch(worker="doomed")
        assert claimed.attempts == attempt
        Take.objects.filter(pk=take.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.takes_requeue_stale() == [take.id]
        take.refresh_from_db()
        expected = "queued" if attempt < settings.SLATE_MAX_ATTEMPTS else "failed"
        assert take.status == expected, attempt
    assert "stopped answering" in take.error and "giving up" in take.error


def test_fresh_heartbeat_is_not_stale(panel, dana):
    ask(panel, dana)
    services.take_claim_batch(worker="alive")
    assert services.takes_requeue_stale() == []


def test_late_result_from_a_presumed_dead_worker_is_dropped(panel, dana):
    take = ask(panel, dana)
    [claimed] = services.take_claim_batch(worker="slow")
    Take.objects.filter(pk=take.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    services.takes_requeue_stale()
    assert (
        services.take_succeed(take=claimed, png=b"png", mp4=None, timings={}, gpu_seconds=1.0)
        is False
    )
    take.refresh_from_db()
    assert take.status == "queued" and not take.image


def test_cancelling_a_running_take_asks_the_worker_to_stop(panel, dana, project):
    take = ask(panel, dana)
    [claimed] = services.take_claim_batch(worker="w")
    services.take_cancel(take=take, by=dana, membership=project.memberships.get(user=dana))
    assert services.takes_heartbeat(takes=[claimed]) == {take.id}
    assert services.take_mark_cancelled(take=claimed)
    take.refresh_from_db()
    assert take.status == "cancelled"


def test_a_take_requested_while_redis_is_down_waits_for_the_reconciler(
    api, dana, panel, settings, django_capture_on_commit_callbacks
):
    queue_settings = settings.RQ_QUEUES[settings.SLATE_QUEUE]
    settings.RQ_QUEUES = {settings.SLATE_QUEUE: {**queue_settings, "URL": "redis://127.0.0.1:1/0"}}
    with django_capture_on_commit_callbacks(execute=True):
        response = api(dana).post(f"/panels/{panel.id}/takes", {})
    assert response.status_code == 202  # the row is the truth; Redis is only transport
    assert Take.objects.get(pk=response.json()["id"]).status == "queued"
    settings.RQ_QUEUES = {settings.SLATE_QUEUE: queue_settings}  # Redis is back
    with django_capture_on_commit_callbacks(execute=True):
        assert services.takes_reconcile()["wakeups_added"] == 1
    assert jobs.pending_wakeups() == 1
