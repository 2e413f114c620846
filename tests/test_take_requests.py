"""Asking for a take: every tool's inputs are checked at the edge; a refused request writes nothing."""

import base64
import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation.models import Take

pytestmark = pytest.mark.django_db


def png_b64(size=(64, 64), color=255) -> str:
    buffer = io.BytesIO()
    Image.new("L", size, color).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def finished(panel, dana):
    take = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=3, steps=4, guidance=5.0,
                               width=64, height=64, status="succeeded", prompt=panel.prompt)  # fmt: skip
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    take.image.save("p/take-parent.png", ContentFile(buffer.getvalue()), save=True)
    return take


@pytest.mark.parametrize(
    "body, field",
    [
        ({"model": "no-such-model"}, "model"),
        ({"width": 65}, "width"),
        ({"height": 4000}, "height"),
        ({"width": 16}, "width"),
        ({"steps": 51}, "steps"),
        ({"steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
        ({"tool": "paint"}, "tool"),
        ({"tool": "video", "num_frames": 17}, "num_frames"),
        ({"tool": "variation"}, "parent_take"),
        ({"tool": "text2image", "model": "tiny-upscale-x2"}, "tool"),
    ],
)
def test_bad_take_requests_get_422_and_write_nothing(api, dana, panel, body, field):
    response = api(dana).post(f"/panels/{panel.id}/takes", body)
    assert response.status_code == 422, response.content
    assert field in str(response.json())
    assert not Take.objects.exists()


def test_prompt_over_the_limit_is_refused_at_generate(api, dana, panel):
    type(panel).objects.filter(pk=panel.pk).update(
        prompt="x" * 2001
    )  # written before the limit existed
    response = api(dana).post(f"/panels/{panel.id}/takes", {})
    assert response.status_code == 422 and "2000" in str(response.json())
    assert not Take.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"strength": 1.5},
        {"strength": -0.1},
        {"strength": 0.05, "steps": 4},  # rounds to zero steps
    ],
)
def test_variation_strength_outside_range_is_refused(api, dana, panel, finished, body):
    response = api(dana).post(
        f"/panels/{panel.id}/takes", {"tool": "variation", "parent_take": finished.id, **body}
    )
    assert response.status_code == 422
    assert Take.objects.count() == 1


def test_variation_records_its_parent_and_parameters(api, dana, panel, finished):
    response = api(dana).post(
        f"/panels/{panel.id}/takes",
        {"tool": "variation", "parent_take": finished.id, "strength": 0.5},
    )
    assert response.status_code == 202
    take = response.json()
    assert (
        take["parent_take"] == finished.id
        and take["strength"] == 0.5
        and take["tool"] == "variation"
    )
    assert (take["width"], take["height"]) == (64, 64)


@pytest.mark.parametrize(
    "mask, message",
    [
        (png_b64((32, 32)), "32x32"),
        (base64.b64encode(b"not an image at all").decode(), "not a base64-encoded PNG"),
        ("%%%not-base64%%%", "not a base64-encoded PNG"),
        (None, "needs a mask"),
    ],
)
def test_inpaint_masks_must_be_images_of_the_takes_size(api, dana, panel, finished, mask, message):
    body = {"tool": "inpaint", "parent_take": finished.id} | ({"mask": mask} if mask else {})
    response = api(dana).post(f"/panels/{panel.id}/takes", body)
    assert response.status_code == 422 and message in str(response.json())
    assert Take.objects.count() == 1


def test_inpaint_stores_the_mask(api, dana, panel, finished):
    response = api(dana).post(
        f"/panels/{panel.id}/takes",
        {"tool": "inpaint", "parent_take": finished.id, "mask": png_b64()},
    )
    assert response.status_code == 202
    take = Take.objects.get(pk=response.json()["id"])
    assert take.mask and take.parent_id == finished.id


def test_upscale_of_a_failed_take_is_refused(api, dana, panel, finished):
    Take.objects.filter(pk=finished.pk).update(status="failed")
    response = api(dana).post(
        f"/panels/{panel.id}/takes", {"tool": "upscale", "parent_take": finished.id, "scale": 4}
    )
    assert response.status_code == 422 and "failed" in str(response.json())
    assert Take.objects.count() == 1


def test_upscale_picks_the_registered_upscaler(api, dana, panel, finished):
    response = api(dana).post(
        f"/panels/{panel.id}/takes", {"tool": "upscale", "parent_take": finished.id, "scale": 4}
    )
    assert response.status_code == 202
    assert response.json()["model"] == "tiny-upscale-x4" and response.json()["scale"] == 4


def test_parent_from_another_project_is_not_found(api, olga, finished):
    from storyboards import services as boards

    mine = boards.project_create(user=olga, name="Mine")
    board = boards.storyboard_create(project=mine, user=olga, title="B")
    panel = boards.panel_create(storyboard=board, user=olga, prompt="p")
    response = api(olga).post(
        f"/panels/{panel.id}/takes", {"tool": "variation", "parent_take": finished.id}
    )
    assert response.status_code == 422 and "No such take" in str(response.json())


def test_video_take_is_queued_with_frames(api, dana, panel):
    response = api(dana).post(
        f"/panels/{panel.id}/takes", {"tool": "video", "num_frames": 6, "fps": 12}
    )
    assert response.status_code == 202
    assert (response.json()["num_frames"], response.json()["fps"]) == (6, 12)


def test_retry_only_for_failed_or_cancelled_and_keeps_parameters(api, dana, panel, finished):
    assert api(dana).post(f"/takes/{finished.id}/retry").status_code == 409
    Take.objects.filter(pk=finished.pk).update(status="failed", error="boom")
    retry = api(dana).post(f"/takes/{finished.id}/retry")
    assert retry.status_code == 202
    body = retry.json()
    assert body["status"] == "queued" and body["retry_of"] == finished.id
    assert (body["seed"], body["steps"], body["width"]) == (
        finished.seed,
        finished.steps,
        finished.width,
    )


def test_cancel_of_a_finished_take_is_refused(api, dana, finished):
    assert api(dana).post(f"/takes/{finished.id}/cancel").status_code == 409


def test_generate_all_queues_bulk_takes_for_panels_with_prompts(api, dana, storyboard, panel):
    from storyboards import services as boards

    boards.panel_create(storyboard=storyboard, user=dana, prompt="second shot")
    boards.panel_create(storyboard=storyboard, user=dana, prompt="")
    response = api(dana).post(f"/storyboards/{storyboard.id}/generate-all")
    assert response.status_code == 202
    takes = response.json()["takes"]
    assert len(takes) == 2 and {t["priority"] for t in takes} == {"bulk"}
    again = api(dana).post(f"/storyboards/{storyboard.id}/generate-all").json()["takes"]
    assert again == []  # panels already on their way are not queued twice


@pytest.mark.parametrize(
    "aspect, size",
    [("16:9", (112, 64)), ("2.39:1", (152, 64)), ("1:1", (64, 64)), ("9:16", (64, 112))],
)
def test_default_size_follows_the_panels_aspect_ratio(api, dana, panel, aspect, size):
    api(dana).patch(f"/panels/{panel.id}", {"aspect_ratio": aspect})
    take = api(dana).post(f"/panels/{panel.id}/takes", {}).json()
    assert (take["width"], take["height"]) == size


def test_a_mask_claiming_a_gigapixel_image_is_refused(api, dana, panel, finished):
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)  # 1.6 Gpx in a few bytes
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    body = {"tool": "inpaint", "parent_take": finished.id, "mask": base64.b64encode(bomb).decode()}
    response = api(dana).post(f"/panels/{panel.id}/takes", body)
    assert response.status_code == 422 and "not a base64-encoded PNG" in str(response.json())


def test_upscale_scale_must_match_the_chosen_model(api, dana, panel, finished):
    body = {"tool": "upscale", "parent_take": finished.id, "model": "tiny-upscale-x4", "scale": 2}
    response = api(dana).post(f"/panels/{panel.id}/takes", body)
    assert response.status_code == 422 and "4x" in str(response.json())


def test_masks_must_be_png(api, dana, panel, finished):
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, "GIF")
    body = {
        "tool": "inpaint",
        "parent_take": finished.id,
        "mask": base64.b64encode(buffer.getvalue()).decode(),
    }
    assert api(dana).post(f"/panels/{panel.id}/takes", body).status_code == 422


def test_a_panel_without_a_prompt_is_not_generated_silently(api, storyboard, dana):
    from storyboards import services as boards

    blank = boards.panel_create(storyboard=storyboard, user=dana, prompt="   ")
    refused = api(dana).post(f"/panels/{blank.id}/takes", {})
    assert refused.status_code == 422 and "no prompt yet" in refused.json()["detail"][0]["msg"]
    assert not Take.objects.filter(panel=blank).exists()


def test_a_video_lasts_as_long_as_its_panel_and_says_when_it_was_capped(api, storyboard, dana):
    from storyboards import services as boards

    def video(seconds, **options):
        panel = boards.panel_create(storyboard=storyboard, user=dana, prompt="a train at dawn",
                                    duration_ms=round(seconds * 1000))  # fmt: skip
        answer = api(dana).post(f"/panels/{panel.id}/takes", {"tool": "video", **options})
        assert answer.status_code == 202, answer.json()
        return answer.json()

    one = video(1)
    assert (one["num_frames"], one["fps"], one["note"]) == (8, 8, "")
    three = video(3)  # 24 frames wanted, the tiny model makes 16
    assert three["num_frames"] == 16
    assert (
        three["note"]
        == "Capped at 16 frames (2.0 s of the panel's 3 s): tiny makes at most 16 frames."
    )
    asked = video(3, num_frames=4)  # asked for: honoured, nothing to say
    assert (asked["num_frames"], asked["note"]) == (4, "")
