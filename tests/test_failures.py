"""A failed take says why in a sentence; the exception and traceback go to the log and the admin."""

import errno
import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from generation import failures
from generation import services as takes
from generation.media import encode_png
from generation.models import Take
from generation.pipelines.spec import ModelLoadError
from generation.worker import _encode_video, _open_image
from tests.conftest import wait_for

SENTENCES = [
    failures.OUT_OF_MEMORY,
    failures.STORAGE_FULL,
    failures.MODEL_UNAVAILABLE,
    failures.VIDEO_ENCODING,
    failures.UNKNOWN,
    *failures.SOURCE_MISSING.values(),
    *failures.SOURCE_UNREADABLE.values(),
]


def ask(panel, author, **options):
    return takes.take_request(panel=panel, author=author, **options)


def raised(make):
    """The exception `make` raises, with its traceback and causes, as the worker catches it."""
    try:
        make()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def assert_no_internals(sentence: str) -> None:
    assert sentence in SENTENCES, sentence
    for internal in ("Error", "Exception", "Traceback", "/", "\\", "errno", "take-", ".py"):
        assert internal not in sentence, (internal, sentence)


def fail_from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


# --- the mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_sentence_is_free_of_internals(sentence):
    assert_no_internals(sentence)
    assert sentence.endswith(".")


def test_running_out_of_memory_on_any_device_says_so():
    import torch

    cuda = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0)")
    mps = RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)")
    cpu = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory"
    )
    for error in (cuda, mps, cpu, MemoryError()):
        assert failures.explain(error) == failures.OUT_OF_MEMORY, error


def test_memory_explains_a_model_load_it_broke():
    load = fail_from(ModelLoadError("model 'big': cannot load '/models/big'"), MemoryError())
    assert failures.explain(load) == failures.OUT_OF_MEMORY


def test_a_full_disk_says_nothing_was_saved():
    full = OSError(errno.ENOSPC, "No space left on device", "/srv/media/takes/p1/take-9.png")
    assert failures.explain(full) == failures.STORAGE_FULL
    assert failures.explain(fail_from(failures.EncodeFailed("ffmpeg"), full)) == (
        failures.STORAGE_FULL
    )


def test_a_model_that_will_not_load_points_at_the_registry(tmp_path):
    from generation.pipelines import PipelineHost

    missing = {"source": str(tmp_path / "no-such-model"), "kind": "stable-diffusion"}
    host = PipelineHost(models={"broken": missing}, cache_dir=tmp_path, device="cpu")
    assert failures.explain(raised(lambda: host.load("broken"))) == failures.MODEL_UNAVAILABLE
    # The worker's registry lacks a model the web process accepted.
    assert failures.explain(raised(lambda: host.load("gone"))) == failures.MODEL_UNAVAILABLE


def test_a_source_image_gone_from_storage_is_missing(db):
    take = Take(image="takes/p1/take-404.png", mask="masks/take-405-mask.png")
    image = raised(lambda: _open_image(take.image, "image"))
    mask = raised(lambda: _open_image(take.mask, "mask"))
    assert failures.explain(image) == "The source take's image is missing."
    assert failures.explain(mask) == "The inpaint mask is missing."
    assert failures.explain(raised(lambda: _open_image(Take().image, "image"))) == (
        "The source take's image is missing."  # no file at all, e.g. the parent was deleted
    )


def test_a_source_image_that_is_not_a_picture_cannot_be_read(db):
    take = Take()
    take.image.save("take-1.png", ContentFile(b"not a png"), save=False)
    error = raised(lambda: _open_image(take.image, "image"))
    assert failures.explain(error) == "The source take's image could not be read."
    assert failures.explain(UnidentifiedImageError("cannot identify image file '/x.png'")) == (
        "The source take's image could not be read."
    )


def test_a_video_ffmpeg_cannot_encode_says_so(monkeypatch, tmp_path):
    # A missing encoder surfaces as FileNotFoundError: what it was doing decides the sentence.
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg"))
    frames = [Image.new("RGB", (16, 16))] * 2
    assert failures.explain(raised(lambda: _encode_video(frames, 8))) == failures.VIDEO_ENCODING


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("UNIQUE constraint failed: generation_take.id"),
        ValueError("width must be between 8 and 1024, got 2048"),
        FileNotFoundError(errno.ENOENT, "No such file", "/srv/slate/var/models/tiny/unet"),
        ZeroDivisionError("division by zero"),
    ],
)
def test_anything_else_is_logged_not_shown(error):
    assert failures.explain(error) == failures.UNKNOWN


def test_the_detail_holds_type_message_traceback_and_cause():
    error = raised(lambda: _open_image(Take(image="takes/p1/take-404.png").image, "image"))
    detail = failures.detail(error)
    assert detail.startswith("Traceback") and "FileNotFoundError" in detail
    assert "take-404.png" in detail and "SourceMissing: source image missing" in detail


# --- stored, shown to the admin, never to the API --------------------------------------------


def claimed(panel, author, worker="gpu-7:4242"):
    ask(panel, author)
    [take] = takes.take_claim_batch(worker=worker)
    return take


def test_a_failed_take_keeps_its_detail_out_of_the_api_and_its_retry(api, dana, panel):
    take = claimed(panel, dana)
    detail = failures.detail(raised(lambda: _open_image(Take(image="takes/x.png").image, "image")))
    assert takes.take_fail(take=take, error=failures.SOURCE_MISSING["image"], error_detail=detail)
    take.refresh_from_db()
    assert take.status == "failed" and take.error_detail == detail
    response = api(dana).get(f"/takes/{take.id}")
    assert response.json()["error"] == failures.SOURCE_MISSING["image"]
    assert "error_detail" not in response.json() and "Traceback" not in response.content.decode()
    retry = api(dana).post(f"/takes/{take.id}/retry").json()
    assert retry["error"] == "" and Take.objects.get(pk=retry["id"]).error_detail == ""


def test_the_admin_shows_the_detail_read_only(admin_client, dana, panel):
    take = claimed(panel, dana)
    takes.take_fail(take=take, error=failures.UNKNOWN, error_detail="Traceback: KeyError unet")
    page = admin_client.get(f"/admin/generation/take/{take.id}/change/").content.decode()
    assert "Traceback: KeyError unet" in page
    assert 'name="error_detail"' not in page  # shown, not editable


def test_a_lost_worker_is_named_to_the_admin_only(panel, dana, settings):
    take = claimed(panel, dana)
    for _ in range(settings.SLATE_MAX_ATTEMPTS):
        Take.objects.filter(pk=take.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
        takes.takes_requeue_stale()
        take.refresh_from_db()
        assert "gpu-7" not in take.error
        if take.status == "queued":
            takes.take_claim_batch(worker="gpu-7:4242")
    assert take.status == "failed" and "stopped answering" in take.error
    assert "gpu-7:4242" in take.error_detail


# --- end to end: a real worker ---------------------------------------------------------------


def finished_parent(panel, author) -> Take:
    """A succeeded 64x64 take to start from, without spending a render on it."""
    take = claimed(panel, author, worker="test")
    png = encode_png(Image.new("RGB", (64, 64), "gray"), {})
    assert takes.take_succeed(take=take, png=png, mp4=None, timings={}, gpu_seconds=0.0)
    take.refresh_from_db()
    return take


@pytest.mark.worker
def test_a_real_worker_tells_people_a_sentence_and_the_admin_the_traceback(
    processes, api, panel, dana, tmp_path, settings
):
    broken = {"broken": {**settings.SLATE_MODELS["tiny"], "source": str(tmp_path / "no-model")}}
    models_file = tmp_path / "models.json"
    models_file.write_text(json.dumps(broken))
    settings.SLATE_MODELS = {**settings.SLATE_MODELS, **broken}
    parent = finished_parent(panel, dana)
    variation = ask(panel, dana, tool="variation", parent_take=parent.id, strength=0.5)
    parent.image.storage.delete(parent.image.name)  # lost from storage after the request
    no_model = ask(panel, dana, model="broken")
    processes.worker(SLATE_MODELS_FILE=models_file)

    def done():
        rows = Take.objects.filter(pk__in=[variation.id, no_model.id], status="failed")
        return {t.id: t for t in rows} if len(rows) == 2 else None

    failed = wait_for(done, timeout=120, message="both takes to fail")
    expected = {
        variation.id: failures.SOURCE_MISSING["image"],
        no_model.id: failures.MODEL_UNAVAILABLE,
    }
    for take_id, sentence in expected.items():
        take = failed[take_id]
        assert take.error == sentence, (take.error, processes.logs())
        assert_no_internals(take.error)
        assert take.error_detail.startswith("Traceback")
        body = api(dana).get(f"/takes/{take_id}").json()
        assert body["error"] == sentence and "error_detail" not in body
        assert "Traceback" not in json.dumps(body)
    source = failed[variation.id].error_detail
    assert "FileNotFoundError" in source and parent.image.name in source
    assert "ModelLoadError" in failed[no_model.id].error_detail
    assert "no-model" in failed[no_model.id].error_detail
