"""Generate all: the run's progress on the board, live, and cancel all."""

import pytest

from generation import services as takes
from generation.models import Status, Take
from generation.selectors import bulk_run
from storyboards import services as boards
from studio import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def shots(storyboard, panel, dana):
    return [panel] + [
        boards.panel_create(storyboard=storyboard, user=dana, prompt=f"shot {i}") for i in range(2)
    ]


def test_a_run_counts_its_takes_and_estimates_from_its_own(storyboard, shots, dana):
    run = takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    assert bulk_run(storyboard_id=storyboard.id) == {
        "total": 3,
        "done": 0,
        "waiting": 3,
        "eta_s": None,
    }
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    Take.objects.filter(pk=run[0].pk).update(status=Status.SUCCEEDED, started_at=now - timedelta(seconds=4),
                                             finished_at=now)  # fmt: skip
    assert bulk_run(storyboard_id=storyboard.id) == {
        "total": 3,
        "done": 1,
        "waiting": 2,
        "eta_s": 8.0,
    }
    takes.take_request(panel=shots[0], author=dana)  # interactive takes are not part of the run
    assert bulk_run(storyboard_id=storyboard.id)["total"] == 3


def test_cancel_all_stops_only_what_the_person_may_cancel(project, storyboard, shots, dana, arti):
    takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    artist = project.memberships.get(user=arti)
    assert takes.storyboard_cancel_bulk(storyboard=storyboard, by=arti, membership=artist) == 0
    owner = project.memberships.get(user=dana)
    running = Take.objects.order_by("id").first()
    Take.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    assert takes.storyboard_cancel_bulk(storyboard=storyboard, by=dana, membership=owner) == 3
    statuses = dict(Take.objects.values_list("pk", "status"))
    assert statuses.pop(running.pk) == Status.RUNNING  # stops at its next step
    assert set(statuses.values()) == {Status.CANCELLED}
    assert Take.objects.get(pk=running.pk).cancel_requested


def test_the_board_shows_the_run_and_every_take_event_refreshes_it(
    client, django_capture_on_commit_callbacks, storyboard, shots, dana, vic
):
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    rendered = events.render_batch([m for m in sent if m["event"] == "take.queued"])
    bulk = rendered[-1]["html"]
    assert 'id="board-bulk"' in bulk[events.EDIT] and "0 of 3" in bulk[events.EDIT]
    assert "Cancel all" in bulk[events.EDIT] and "Cancel all" not in bulk[events.VIEW]
    client.force_login(vic)
    page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert "Generating all panels" in page and "0 of 3" in page and "Cancel all" not in page


def test_cancel_all_from_the_page_and_the_api(client, api, storyboard, shots, dana, vic):
    takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    assert api(vic).post(f"/storyboards/{storyboard.id}/cancel-all").status_code == 403
    client.force_login(dana)
    answer = client.post(f"/storyboards/{storyboard.id}/cancel-all/")
    assert answer.status_code == 204  # the live event redraws the run for everyone
    assert not Take.objects.filter(status=Status.QUEUED).exists()
    takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    assert api(dana).post(f"/storyboards/{storyboard.id}/cancel-all").json() == {"cancelled": 3}
