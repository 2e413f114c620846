"""Guards that one-line mutations used to remove without a single test noticing (issue 9).

Each test calls the service (or the socket) where its guard lives: the API and the pages have
their own schema checks, which would let a broken service pass unnoticed. Each is named after
the guard it protects; the mutation it kills is in its docstring.
"""

import base64
import io
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from generation import services as takes
from generation.models import Priority, Status, Take
from storyboards import services as boards
from storyboards.models import Comment, Membership, Panel
from studio import events
from studio.errors import Conflict, TooMany

from .test_live_updates import communicator, live_until, session_cookie

pytestmark = pytest.mark.django_db


def refused(field: str, service, **arguments) -> ValidationError:
    """The service refuses with a ValidationError about `field`: not a database error (a 500),
    not nothing."""
    with pytest.raises(ValidationError) as refusal:
        service(**arguments)
    assert field in refusal.value.message_dict, refusal.value.message_dict
    return refusal.value


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, "PNG")
    return buffer.getvalue()


# --- text limits -----------------------------------------------------------------------------


def test_check_prompt_refuses_a_panel_prompt_over_the_limit(storyboard, dana):
    """storyboards.services._check_prompt: `if len(text) > settings.SLATE_MAX_PROMPT` removed."""
    limit = settings.SLATE_MAX_PROMPT
    too_long, before = "x" * (limit + 1), Panel.objects.count()
    refused("prompt", boards.panel_create, storyboard=storyboard, user=dana, prompt=too_long)
    refused("negative_prompt", boards.panel_create, storyboard=storyboard, user=dana,
            negative_prompt=too_long)  # fmt: skip
    assert Panel.objects.count() == before
    at_limit = boards.panel_create(storyboard=storyboard, user=dana, prompt="x" * limit)
    refused("prompt", boards.panel_update, panel=at_limit, prompt=too_long)
    at_limit.refresh_from_db()
    assert at_limit.prompt == "x" * limit


def test_take_request_refuses_a_prompt_over_the_limit(panel, dana):
    """generation.services.take_request: `len(prompt) > settings.SLATE_MAX_PROMPT` (and the
    negative prompt's) removed. A panel written before the limit (or by an admin) may hold a
    longer prompt than the editor allows: the take must not copy it."""
    too_long = "x" * (settings.SLATE_MAX_PROMPT + 1)
    for field in ("prompt", "negative_prompt"):
        Panel.objects.filter(pk=panel.pk).update(**{field: too_long})
        panel.refresh_from_db()
        refused("prompt", takes.take_request, panel=panel, author=dana)
        Panel.objects.filter(pk=panel.pk).update(**{field: too_long[1:]})  # at the limit: fine
        panel.refresh_from_db()
        assert takes.take_request(panel=panel, author=dana).status == Status.QUEUED
        Panel.objects.filter(pk=panel.pk).update(**{field: "a diner at night"})
    assert Take.objects.count() == 2


def test_comment_add_refuses_a_body_over_10000_characters(panel, arti):
    """storyboards.services.comment_add: `if len(body) > 10_000` removed."""
    refused("body", boards.comment_add, panel=panel, author=arti, body="x" * 10_001)
    assert not Comment.objects.exists()
    assert boards.comment_add(panel=panel, author=arti, body="x" * 10_000).body == "x" * 10_000


# --- take requests ---------------------------------------------------------------------------


def test_take_request_refuses_a_tool_the_studio_does_not_know(panel, dana, settings):
    """generation.services.take_request: `if tool not in Tool.values` removed. The registry is
    configuration: a model that lists a tool Slate has no pipeline for must not get a take."""
    tiny = settings.SLATE_MODELS["tiny"]
    settings.SLATE_MODELS = {
        **settings.SLATE_MODELS,
        "tiny": {**tiny, "tools": [*tiny["tools"], "sketch"]},
    }
    error = refused("tool", takes.take_request, panel=panel, author=dana, tool="sketch")
    assert "must be one of" in str(error)
    assert not Take.objects.exists()


@pytest.mark.parametrize(
    "field, tool, low, high, below, above",
    [
        ("seed", "text2image", 0, 2**63 - 1, -1, 2**63),
        ("guidance", "text2image", 0.0, 30.0, -0.5, 30.5),
        ("fps", "video", 1, 60, 0, 61),
    ],
)
def test_check_range_refuses_seed_guidance_and_fps_outside_their_range(
    panel, dana, field, tool, low, high, below, above
):
    """generation.services: `_check_range("seed" | "guidance" | "fps", ...)` removed. Both ends
    are allowed (a `<=` turned `<` is caught too); one step past either end is refused."""
    for bad in (below, above):
        options = {"tool": tool, field: bad}
        refused(field, takes.take_request, panel=panel, author=dana, **options)
    assert not Take.objects.exists()
    for good in (low, high):
        take = takes.take_request(panel=panel, author=dana, tool=tool, **{field: good})
        assert getattr(take, field) == good


# --- members ---------------------------------------------------------------------------------


def test_check_role_refuses_an_unknown_role_when_adding_a_member(project, olga):
    """storyboards.services.member_add: `_check_role(role)` removed (the database's constraint
    would answer with an IntegrityError, a 500, instead of saying which roles exist)."""
    error = refused("role", boards.member_add, project=project, username="olga", role="producer")
    assert "viewer" in str(error)
    assert not Membership.objects.filter(project=project, user=olga).exists()
    assert boards.member_add(project=project, username="olga", role="writer").role == "writer"


def test_member_add_refuses_a_second_membership_of_the_same_project(project, olga, dana):
    """storyboards.services.member_add: the `project=project` / `user=user` filter of the
    already-a-member check mutated: someone who belongs to another project could not be added,
    or a member could be added twice (the constraint would answer with a 500)."""
    elsewhere = boards.project_create(user=dana, name="Second unit")
    boards.member_add(project=elsewhere, username="olga", role="viewer")
    assert boards.member_add(project=project, username="olga", role="artist").role == "artist"
    with pytest.raises(Conflict):
        boards.member_add(project=project, username="olga", role="viewer")
    assert project.memberships.get(user=olga).role == "artist"


def test_check_role_refuses_an_unknown_role_when_changing_a_member(project, arti):
    """storyboards.services.member_set_role: `_check_role(role)` removed."""
    membership = project.memberships.get(user=arti)
    refused("role", boards.member_set_role, membership=membership, role="producer")
    assert project.memberships.get(user=arti).role == "artist"


# --- comments --------------------------------------------------------------------------------


def test_comment_add_pins_only_a_take_of_the_same_panel(storyboard, panel, dana, arti):
    """storyboards.services.comment_add: `panel.takes.filter(pk=take_id)` widened to
    `Take.objects.filter(pk=take_id)`: a comment on one panel pointing at another panel's take
    (or another project's) would show that take in the wrong thread."""
    other_panel = boards.panel_create(storyboard=storyboard, user=dana, prompt="the kitchen")
    elsewhere = takes.take_request(panel=other_panel, author=dana)
    add = boards.comment_add
    refused("take", add, panel=panel, author=arti, body="This one.", take_id=elsewhere.id)
    assert not Comment.objects.exists()
    own = takes.take_request(panel=panel, author=dana)
    assert add(panel=panel, author=arti, body="This one.", take_id=own.id).take == own


# --- the queue and the bus -------------------------------------------------------------------


def test_take_claim_batch_tells_the_boards_where_the_rest_of_the_queue_stands(
    storyboard, panel, dana, django_capture_on_commit_callbacks
):
    """generation.services.take_claim_batch: `queue_publish()` after the claim removed. The
    take that was second is now first: every board with waiting takes must be told."""
    first = takes.take_request(panel=panel, author=dana)
    second = takes.take_request(panel=panel, author=dana, width=128)  # not batched with `first`
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        [claimed] = takes.take_claim_batch(worker="w1")
    assert claimed.id == first.id
    updates = [m["data"] for m in sent if m["event"] == "queue.updated"]
    assert [(u["storyboard"], u["positions"]) for u in updates] == [
        (storyboard.id, {str(second.id): 1})
    ]


def test_publish_sends_only_after_the_transaction_commits(
    panel, arti, django_capture_on_commit_callbacks
):
    """studio.events.publish: `transaction.on_commit(outbox, ).submit(message))` turned
    into `outbox().submit(message)`: pages would hear of changes that were then rolled back."""
    with events.captured() as sent:
        with pytest.raises(RuntimeError), transaction.atomic():
            boards.comment_add(panel=panel, author=arti, body="Never happened.")
            raise RuntimeError("rolled back")
        assert sent == []
        with django_capture_on_commit_callbacks(execute=True):
            comment = boards.comment_add(panel=panel, author=arti, body="Wider.")
            assert sent == []  # not before the commit
        assert [(m["event"], m["data"]["comment"]) for m in sent] == [
            ("comment.created", comment.id)
        ]


# --- every worker write is conditional on its claim ------------------------------------------


def taken_back(panel, author) -> tuple[Take, Take]:
    """A take claimed by a slow worker, given up by the reconciler when its heartbeat stopped,
    and claimed again by a second worker: (the slow worker's copy, the second worker's)."""
    take = takes.take_request(panel=panel, author=author)
    [slow] = takes.take_claim_batch(worker="slow")
    Take.objects.filter(pk=take.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert takes.takes_requeue_stale() == [take.pk]
    [fast] = takes.take_claim_batch(worker="fast")
    assert fast.pk == slow.pk and fast.claim != slow.claim and fast.status == Status.RUNNING
    return slow, fast


def still_the_second_workers(fast: Take) -> Take:
    row = Take.objects.get(pk=fast.pk)
    assert (row.status, row.claim, row.worker) == (Status.RUNNING, fast.claim, "fast")
    assert not row.image and row.error == fast.error and row.finished_at is None
    return row


def test_finish_writes_only_while_the_worker_holds_the_claim(panel, dana):
    """generation.services._finish: `claim=take.claim` removed from its UPDATE: a worker
    presumed dead would end (fail, cancel) a take another worker is running."""
    slow, fast = taken_back(panel, dana)
    assert takes.take_fail(take=slow, error="CUDA out of memory") is False
    assert takes.take_mark_cancelled(take=slow) is False
    still_the_second_workers(fast)


def test_take_succeed_checks_the_claim_before_writing_any_file(panel, dana, monkeypatch):
    """generation.services.take_succeed: `claim=take.claim` removed from its first check: the
    late worker would upload its files (into the very names the second worker will use) before
    finding out it lost the take."""
    slow, fast = taken_back(panel, dana)
    written = []
    save = Storage.save
    monkeypatch.setattr(
        Storage,
        "save",
        lambda self, name, *a, **k: written.append(name) or save(self, name, *a, **k),
    )
    assert (
        takes.take_succeed(take=slow, png=b"png", mp4=b"mp4", timings={}, gpu_seconds=1.0) is False
    )
    assert written == []
    still_the_second_workers(fast)
    assert Panel.objects.get(pk=panel.pk).selected_take_id is None


def test_takes_heartbeat_touches_only_takes_the_worker_still_holds(panel, dana):
    """generation.services.takes_heartbeat: `claim=takes[0].claim` removed: the late worker would
    keep beating (and overwrite the progress of) the second worker's take, and never stop."""
    slow, fast = taken_back(panel, dana)
    beat = Take.objects.get(pk=fast.pk).heartbeat_at
    assert takes.takes_heartbeat(takes=[slow], progress=0.9) == {slow.pk}  # stop: not yours
    row = still_the_second_workers(fast)
    assert (row.progress, row.heartbeat_at) == (0.0, beat)
    assert takes.takes_heartbeat(takes=[fast], progress=0.5) == set()
    assert Take.objects.get(pk=fast.pk).progress == 0.5


def test_recover_leaves_a_take_that_another_worker_claimed_meanwhile(panel, dana):
    """generation.services._recover: `claim=take.claim` removed from the re-queue: a reconciler
    acting on what it read a moment ago would take the take back from the worker now running it."""
    slow, fast = taken_back(panel, dana)
    Take.objects.filter(pk=fast.pk).update(attempts=1)  # the re-queue branch, not "giving up"
    slow.attempts = 1
    assert takes._recover(slow) is False
    still_the_second_workers(fast)


# --- sockets ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_socket_looks_its_role_up_again_when_the_member_changes(storyboard, project, dana, arti):
    """storyboards.consumers.StoryboardSocket.deliver: `self.membership = await
    self.load_membership(again=True)` frozen (the socket keeps the role it connected with): an
    artist demoted to viewer would keep receiving the editors' fragments, controls included."""
    cookie = session_cookie(arti)

    async def run():
        comm = communicator(
            f"/ws/storyboards/{storyboard.id}/live", cookie=cookie, origin="http://localhost:8000"
        )
        assert (await comm.connect())[0]
        json.loads(await comm.receive_from(timeout=5))  # hello
        create = database_sync_to_async(boards.panel_create)
        # A panel without a prompt: editors are asked for one, viewers just see no take yet.
        await create(storyboard=storyboard, user=dana, action="Seen as an artist.")
        as_artist = await live_until(comm, "Seen as an artist.")
        membership = await database_sync_to_async(project.memberships.get)(user=arti)
        await database_sync_to_async(boards.member_set_role)(membership=membership, role="viewer")
        await create(storyboard=storyboard, user=dana, action="Seen as a viewer.")
        as_viewer = await live_until(comm, "Seen as a viewer.")
        await comm.disconnect()
        return as_artist, as_viewer

    as_artist, as_viewer = async_to_sync(run)()
    assert "No prompt yet" in as_artist
    assert "No prompt yet" not in as_viewer and "No take yet" in as_viewer


# --- survivors of the mutation run worth killing ---------------------------------------------


def board_order(storyboard) -> list[tuple[int, int]]:
    return list(storyboard.panels.order_by("position").values_list("pk", "position"))


def test_take_create_copies_the_prompt_and_the_model_into_the_take(panel, dana):
    """generation.services._take_create: `prompt=`, `negative_prompt=`, `model_source=` or
    `model_revision=` dropped. The take is the ledger: the worker renders what the row says."""
    boards.panel_update(panel=panel, negative_prompt="people")
    take = takes.take_request(panel=panel, author=dana)
    assert (take.prompt, take.negative_prompt) == ("a diner at night, rain", "people")
    assert (take.model_key, take.model_source) == ("tiny", "builtin:tiny-sd")
    assert Take.objects.filter(pk=take.pk, prompt=panel.prompt, negative_prompt="people").exists()


def test_steps_must_be_between_1_and_the_models_limit(panel, dana):
    """generation.services._take_params: the steps range (1 .. the registry's max_steps, 50 for
    tiny) moved by one at either end."""
    for bad in (0, 51):
        refused("steps", takes.take_request, panel=panel, author=dana, steps=bad)
    for good in (1, 50):
        assert takes.take_request(panel=panel, author=dana, steps=good).steps == good


def test_check_quota_counts_the_authors_own_waiting_takes_up_to_the_limit(
    panel, dana, arti, settings
):
    """generation.services._check_quota: `author=author` dropped (everyone's takes counted
    against one person) or the limit moved by one (`+ adding` to `- adding`, `>` to `>=`)."""
    settings.SLATE_MAX_WAITING = 2
    takes.take_request(panel=panel, author=arti)
    takes.take_request(panel=panel, author=arti)
    takes.take_request(panel=panel, author=dana)
    takes.take_request(panel=panel, author=dana)  # the second of two: still allowed
    with pytest.raises(TooMany):
        takes.take_request(panel=panel, author=dana)
    assert Take.objects.filter(author=dana).count() == 2


def test_take_retry_keeps_the_parent_the_mask_and_the_note(panel, dana):
    """generation.services.take_retry: `parent=`, `mask=` or `note=` dropped from the copy: an
    inpaint retried without its mask (or its parent) is a different request."""
    parent = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=3, steps=4,
                                 guidance=5.0, width=64, height=64, status=Status.SUCCEEDED,
                                 prompt=panel.prompt)  # fmt: skip
    parent.image.save("p/take-parent.png", ContentFile(png(64, 64)), save=True)
    mask = base64.b64encode(png(64, 64)).decode()
    take = takes.take_request(
        panel=panel, author=dana, tool="inpaint", parent_take=parent.id, mask=mask
    )
    Take.objects.filter(pk=take.pk).update(status=Status.FAILED, note="Capped at 16 frames.")
    take.refresh_from_db()
    retry = takes.take_retry(take=take, author=dana)
    assert (retry.parent_id, retry.retry_of_id) == (parent.id, take.id)
    assert retry.mask.name == take.mask.name and retry.mask.name
    assert retry.note == "Capped at 16 frames."


def test_take_copy_keeps_the_video_of_a_duplicated_panel(panel, dana):
    """generation.services.take_copy: `video=take.video.name` dropped: a duplicated panel whose
    picture is a clip would keep only its poster frame."""
    take = takes.take_request(panel=panel, author=dana, tool="video")
    Take.objects.filter(pk=take.pk).update(
        status=Status.SUCCEEDED, image="p/t.png", video="p/t.mp4"
    )
    boards.panel_update(panel=panel, selected_take=take.pk)
    copy = boards.panel_duplicate(panel=panel, user=dana)
    picture = copy.selected_take
    assert (picture.image.name, picture.video.name) == ("p/t.png", "p/t.mp4")
    assert picture.started_at and picture.finished_at and picture.parent_id == take.pk


def test_panel_move_shifts_only_the_panels_in_between(storyboard, panel, dana):
    """storyboards.services.panel_move: a bound of the shifted range dropped, a `<` turned
    `<=`, or a move past the last position accepted (two panels would share a position)."""
    a, b, c, d = [panel] + [
        boards.panel_create(storyboard=storyboard, user=dana, prompt=p) for p in "bcd"
    ]
    boards.panel_move(panel=d, position=1)  # backwards into the middle
    assert board_order(storyboard) == [(a.pk, 0), (d.pk, 1), (b.pk, 2), (c.pk, 3)]
    boards.panel_move(panel=a, position=2)  # forwards into the middle
    assert board_order(storyboard) == [(d.pk, 0), (b.pk, 1), (a.pk, 2), (c.pk, 3)]
    boards.panel_move(panel=b, position=1)  # where it already is: nothing moves
    assert board_order(storyboard) == [(d.pk, 0), (b.pk, 1), (a.pk, 2), (c.pk, 3)]
    refused("position", boards.panel_move, panel=c, position=4)
    assert board_order(storyboard) == [(d.pk, 0), (b.pk, 1), (a.pk, 2), (c.pk, 3)]


def test_panel_delete_closes_the_gap_on_its_own_board_only(project, storyboard, panel, dana):
    """storyboards.services.panel_delete: `storyboard=panel.storyboard_id` dropped from the
    update that closes the gap: deleting a panel would reorder every other board."""
    other = boards.storyboard_create(project=project, user=dana, title="Second unit")
    others = [boards.panel_create(storyboard=other, user=dana, prompt=p) for p in "xyz"]
    boards.panel_create(storyboard=storyboard, user=dana, prompt="b")
    boards.panel_delete(panel=panel, by=dana)
    assert board_order(other) == [(p.pk, i) for i, p in enumerate(others)]
    assert [position for _, position in board_order(storyboard)] == [0]


def test_cancel_bulk_lets_an_artist_stop_their_own_run_only(storyboard, panel, project, dana, arti):
    """generation.services.storyboard_cancel_bulk: `author=by` mutated (an artist's "cancel
    all" would stop nothing of theirs, or everyone's)."""
    boards.panel_create(storyboard=storyboard, user=dana, prompt="b")
    mine = takes.storyboard_generate_all(storyboard=storyboard, author=arti)
    theirs = takes.take_request(panel=panel, author=dana, priority=Priority.BULK)
    membership = project.memberships.get(user=arti)
    stopped = takes.storyboard_cancel_bulk(storyboard=storyboard, by=arti, membership=membership)
    assert stopped == len(mine) == 2
    statuses = dict(Take.objects.values_list("pk", "status"))
    assert [statuses[t.pk] for t in mine] == [Status.CANCELLED] * 2
    assert statuses[theirs.pk] == Status.QUEUED


def test_keep_an_owner_counts_only_this_projects_owners(project, dana, olga):
    """storyboards.services._keep_an_owner: `project=membership.project_id` dropped (or `and`
    turned `or`): the last owner could step down because someone owns another project."""
    boards.project_create(user=olga, name="Olga's own")  # olga owns a different project
    last_owner = project.memberships.get(user=dana)
    with pytest.raises(Conflict):
        boards.member_set_role(membership=last_owner, role="director")
    assert project.memberships.get(user=dana).role == "owner"
    boards.member_set_role(membership=project.memberships.get(user__username="arti"), role="owner")
    assert boards.member_set_role(membership=last_owner, role="director").role == "director"


def test_take_cancel_asks_only_that_running_take_to_stop(panel, project, dana):
    """generation.services.take_cancel: `pk=take.pk` dropped from the running branch: cancelling
    one running take would stop every running take in the studio."""
    takes.take_request(panel=panel, author=dana)
    takes.take_request(panel=panel, author=dana, width=128)  # its own batch
    [running] = takes.take_claim_batch(worker="w1")
    [other] = takes.take_claim_batch(worker="w2")
    membership = project.memberships.get(user=dana)
    takes.take_cancel(take=running, by=dana, membership=membership)
    flags = dict(Take.objects.values_list("pk", "cancel_requested"))
    assert flags == {running.pk: True, other.pk: False}


def test_deleting_a_board_keeps_files_a_surviving_take_still_names(
    project, storyboard, panel, dana, media_root, django_capture_on_commit_callbacks
):
    """storyboards.services._delete_files_after_commit: a column dropped from the `kept` check
    (or `|=` turned `=`/`&=`): deleting a board would remove the picture of a panel duplicated
    onto another board (a copied take shares its files)."""
    take = takes.take_request(panel=panel, author=dana, tool="video")
    take.image.save("p/shared.png", ContentFile(png(8, 8)), save=False)
    take.video.save("p/shared.mp4", ContentFile(b"mp4"), save=False)
    take.mask.save("p/own-mask.png", ContentFile(png(8, 8)), save=False)
    take.status = Status.SUCCEEDED
    take.save()
    other = boards.storyboard_create(project=project, user=dana, title="Second unit")
    elsewhere = boards.panel_create(storyboard=other, user=dana, prompt="the copy")
    takes.take_copy(take=take, panel=elsewhere, author=dana)
    with django_capture_on_commit_callbacks(execute=True):
        boards.storyboard_delete(storyboard=storyboard, by=dana)
    assert (media_root / take.image.name).exists() and (media_root / take.video.name).exists()
    assert not (media_root / take.mask.name).exists()  # named by nobody any more: removed
