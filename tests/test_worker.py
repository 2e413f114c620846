"""Real RQ workers, real Redis, the tiny model: takes finish, fail cleanly, batch, cancel, recover."""

import io
import json
import os
import signal

import numpy as np
import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from PIL import Image

from generation import services as takes
from generation.models import Take
from storyboards import services as boards
from tests.conftest import wait_for
from tests.test_live_updates import communicator

pytestmark = pytest.mark.worker


def ask(panel, author, **options):
    return takes.take_request(panel=panel, author=author, **options)


def finished(take_ids, timeout=90):
    def check():
        rows = list(Take.objects.filter(pk__in=take_ids).exclude(status__in=["queued", "running"]))
        return rows if len(rows) == len(take_ids) else None

    return {
        t.id: t for t in wait_for(check, timeout=timeout, message=f"takes {take_ids} to finish")
    }


def pixels(take) -> np.ndarray:
    with take.image.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_take_succeeds_with_png_metadata_and_live_events(processes, storyboard, panel, dana, vic):
    processes.worker()
    token = boards.token_issue(user=vic)

    async def watch():
        from channels.db import database_sync_to_async

        comm = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        assert (await comm.connect())[0]
        await comm.receive_from()  # hello
        take = await database_sync_to_async(ask)(panel, dana, seed=1234, steps=4)
        seen = []
        while not seen or seen[-1]["type"] not in ("take.succeeded", "take.failed"):
            try:
                seen.append(json.loads(await comm.receive_from(timeout=90)))
            except TimeoutError:
                raise AssertionError(f"events stopped after {[m['type'] for m in seen]}") from None
        await comm.disconnect()
        return take, seen

    take, seen = async_to_sync(watch)()
    types = [m["type"] for m in seen]
    assert (
        types[0] == "take.queued" and "take.started" in types and types[-1] == "take.succeeded"
    ), (types, processes.logs())
    progress = [m["progress"] for m in seen if m["type"] == "take.progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(m["type"] == "take.preview" for m in seen)
    take.refresh_from_db()
    assert take.status == "succeeded" and take.progress == 1.0
    image = Image.open(take.image.path)
    assert image.size == (112, 64)  # the tiny model's 64 px, framed 16:9 like the panel
    assert (
        image.text["prompt"] == panel.prompt
        and image.text["seed"] == "1234"
        and image.text["model"] == "tiny"
    )
    assert json.loads(image.text["parameters"])["steps"] == "4"
    assert {"queue_wait_s", "load_s", "sampling_s", "save_s"} <= set(take.timings)
    assert take.gpu_seconds > 0
    panel.refresh_from_db()
    assert panel.selected_take_id == take.id


def test_a_broken_model_fails_the_take_and_the_worker_keeps_serving(
    processes, panel, dana, tmp_path, settings
):
    broken = {
        "broken": {
            **settings.SLATE_MODELS["tiny"],
            "source": str(tmp_path / "no-such-model"),
            "label": "Broken",
        }
    }
    models_file = tmp_path / "models.json"
    models_file.write_text(json.dumps(broken))
    settings.SLATE_MODELS = {**settings.SLATE_MODELS, **broken}
    processes.worker(SLATE_MODELS_FILE=models_file)
    bad = ask(panel, dana, model="broken")
    assert finished([bad.id])[bad.id].status == "failed"
    bad.refresh_from_db()
    # People read a sentence; the path is for the admin.
    assert "no-such-model" not in bad.error and "no-such-model" in bad.error_detail
    good = ask(panel, dana)
    assert finished([good.id])[good.id].status == "succeeded", processes.logs()


def test_batched_takes_match_the_same_takes_alone(processes, panel, dana):
    batch = [ask(panel, dana, seed=s) for s in (11, 22, 33)]  # queued before any worker runs
    processes.worker()
    done = finished([t.id for t in batch])
    assert {t.batch_size for t in done.values()} == {3}, processes.logs()
    for original in batch:
        alone = ask(panel, dana, seed=original.seed)
        finished([alone.id])
        alone.refresh_from_db()
        assert alone.batch_size == 1
        difference = np.abs(pixels(done[original.id]) - pixels(alone)).max()
        assert difference <= 1, (original.seed, difference)


# A long take without the CPU: each step waits, so the test's time is spent waiting, not rendering.
SLOW = {"SLATE_STEP_DELAY_S": 0.25}


def test_cancel_stops_a_running_take_at_the_next_step(processes, panel, dana, project):
    processes.worker(**SLOW)
    warm = ask(panel, dana, steps=1)
    finished([warm.id])
    slow = ask(panel, dana, steps=40)  # 10 s of waiting
    wait_for(
        lambda: Take.objects.filter(pk=slow.pk, status="running", progress__gt=0).exists(),
        message="a running take",
    )
    takes.take_cancel(take=slow, by=dana, membership=project.memberships.get(user=dana))
    done = finished([slow.id], timeout=60)[slow.id]
    assert done.status == "cancelled" and done.progress < 1.0 and not done.image
    after = ask(panel, dana)
    assert finished([after.id])[after.id].status == "succeeded"


def test_a_killed_worker_never_strands_its_take(processes, panel, dana):
    fast_recovery = {"SLATE_STALE_AFTER_S": 4, "SLATE_RECONCILE_EVERY_S": 1, "SLATE_HEARTBEAT_S": 1,
                     "SLATE_STEP_DELAY_S": 0.1}  # fmt: skip
    first = processes.worker(**fast_recovery)
    slow = ask(panel, dana, steps=30)  # 3 s of waiting per run
    wait_for(
        lambda: Take.objects.filter(pk=slow.pk, status="running").exists(),
        message="the take to start",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    processes.worker(**fast_recovery)  # `make run` restarts a dead worker the same way
    done = finished([slow.id], timeout=120)[slow.id]
    assert done.status == "succeeded", (done.status, done.error, processes.logs())
    assert done.attempts == 2 and "stopped answering" not in done.error


def test_an_emptied_redis_loses_no_take(processes, panel, dana):
    queued = [ask(panel, dana, seed=s) for s in range(3)]
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # every wake-up is gone
    processes.worker()  # reconciles at start, then every few seconds
    done = finished([t.id for t in queued])
    assert {t.status for t in done.values()} == {"succeeded"}
    assert Take.objects.filter(status="succeeded").count() == 3  # each exactly once


def test_a_take_past_its_registry_timeout_fails_with_the_reason(
    processes, panel, dana, tmp_path, settings
):
    impatient = {"tiny": {**settings.SLATE_MODELS["tiny"], "timeout_s": 1}}
    models_file = tmp_path / "models.json"
    models_file.write_text(json.dumps(impatient))
    processes.worker(SLATE_MODELS_FILE=models_file, **SLOW)
    slow = ask(panel, dana, steps=16)  # 4 s of waiting: past the 1 s limit
    done = finished([slow.id], timeout=90)[slow.id]
    assert done.status == "failed" and "Timed out after 1 s" in done.error
    assert done.progress < 1.0 and not done.image


def test_make_run_restarts_a_dead_worker_and_keeps_serving(processes):
    import urllib.request

    import psutil

    from tests.conftest import free_port

    port = free_port()
    supervisor = processes.start(["manage.py", "runstudio", "--port", str(port)], "runstudio")

    def workers():
        found = []
        for child in psutil.Process(supervisor.pid).children():
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "rqworker" in " ".join(
                    child.cmdline()
                ):
                    found.append(child.pid)
            except psutil.Error:  # gone (or a zombie) between listing and looking
                continue
        return found

    def serving():
        try:
            return (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).status == 200
            )
        except OSError:
            return False

    wait_for(serving, timeout=60, message="the web server")
    [first] = wait_for(workers, timeout=30, message="the worker")
    os.kill(first, signal.SIGKILL)
    restarted = wait_for(
        lambda: [pid for pid in workers() if pid != first], timeout=30, message="a new worker"
    )
    assert restarted and serving(), processes.logs()


def test_every_tool_runs_on_the_worker_and_records_its_lineage(processes, panel, dana, api):
    import base64

    processes.worker()
    parent = ask(panel, dana, seed=5, width=64, height=64)
    finished([parent.id])
    parent.refresh_from_db()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))  # repaint the middle only
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    requests = {
        "variation": {"parent_take": parent.id, "strength": 0.5},
        "inpaint": {"parent_take": parent.id, "mask": base64.b64encode(buffer.getvalue()).decode()},
        "upscale": {"parent_take": parent.id, "scale": 2},
        "video": {"num_frames": 4, "width": 64, "height": 64},
    }
    made = {tool: ask(panel, dana, tool=tool, **options) for tool, options in requests.items()}
    done = finished([t.id for t in made.values()], timeout=120)
    for tool, take in made.items():
        assert done[take.id].status == "succeeded", (tool, done[take.id].error, processes.logs())
    variation, inpaint, upscale, video = (done[made[t].id] for t in requests)
    assert variation.parent_id == inpaint.parent_id == upscale.parent_id == parent.id
    before, after = pixels(parent), pixels(inpaint)
    outside = np.ones((64, 64), bool)
    outside[16:48, 16:48] = False
    assert np.abs(after - before)[outside].max() == 0  # untouched outside the mask
    assert np.abs(after - before)[~outside].max() > 0
    assert (
        Image.open(upscale.image.path).size == (128, 128) and upscale.model_key == "tiny-upscale-x2"
    )
    assert video.video.name.endswith(".mp4")
    with video.video.open("rb") as handle:
        assert handle.read(12)[4:8] == b"ftyp"
    response = api(dana).get(f"/takes/{video.id}").json()
    assert response["video_url"].endswith(".mp4") and response["parent_take"] is None
