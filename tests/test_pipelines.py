"""The torch side on the tiny random-weight models: 64 px, a few steps, fixed seeds, CPU.

No Django here: run with `pytest -p no:django tests/test_pipelines.py`.
"""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import init_empty_weights
from PIL import Image

from generation.pipelines import (
    ModelLoadError,
    PipelineHost,
    RenderInterrupted,
    RenderRequest,
    Shot,
)
from generation.pipelines.builders import build_sd_turbo_arch, ensure_builtin
from generation.pipelines.preview import latents_to_jpegs, preview_size

LIMITS = {"min_size": 32, "max_size": 512, "max_steps": 50, "max_batch": 4, "max_frames": 16}
MODELS = {
    "tiny": {
        "kind": "stable-diffusion",
        "source": "builtin:tiny-sd",
        "tools": ["text2image", "variation", "inpaint", "video"],
        "limits": LIMITS,
        "motion_adapter": "builtin:tiny-motion",
        "preview": "linear",
    },
    "tiny-upscale-x2": {
        "kind": "upscale",
        "scale": 2,
        "source": "builtin:tiny-upscale-x2",
        "tools": ["upscale"],
        "limits": LIMITS,
    },
    "tiny-upscale-x4": {
        "kind": "upscale",
        "scale": 4,
        "source": "builtin:tiny-upscale-x4",
        "tools": ["upscale"],
        "limits": LIMITS,
    },
    "missing": {
        "kind": "stable-diffusion",
        "source": "/nonexistent/slate-model",
        "tools": ["text2image"],
        "limits": LIMITS,
    },
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tests share 2 cores with other processes (a browser, workers). Two torch threads on a
    # busy machine spin-wait on each other: measured 86 s for this file, against 17 s with one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def host(cache_dir):
    return PipelineHost(MODELS, cache_dir, device="cpu")


def request(tool="text2image", shots=None, model="tiny", **overrides) -> RenderRequest:
    fields = {"width": 64, "height": 64, "steps": 4, "guidance": 5.0} | overrides
    shots = shots or [Shot(prompt="a lighthouse at dusk", seed=1)]
    return RenderRequest(model=model, tool=tool, shots=shots, **fields)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(int)


def picture(seed: int) -> Image.Image:
    noise = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return Image.fromarray(noise)


def square_mask() -> Image.Image:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    return mask


def test_text_to_image_has_the_requested_size(host):
    [rendered] = host.render(request(width=64, height=48))

    assert rendered.image.size == (64, 48)
    assert rendered.frames is None


def test_same_seed_gives_same_pixels_and_another_seed_does_not(host):
    first = host.render(request(shots=[Shot("a lighthouse", seed=7)]))[0].image
    again = host.render(request(shots=[Shot("a lighthouse", seed=7)]))[0].image
    other = host.render(request(shots=[Shot("a lighthouse", seed=8)]))[0].image

    assert np.array_equal(pixels(first), pixels(again))
    assert not np.array_equal(pixels(first), pixels(other))


def test_a_batched_shot_matches_the_shot_rendered_alone(host):
    shots = [Shot("a lighthouse", seed=1), Shot("a storm", seed=2, negative_prompt="sun")]

    batched = host.render(request(shots=shots))
    alone = [host.render(request(shots=[shot]))[0] for shot in shots]

    for together, single in zip(batched, alone, strict=True):
        assert np.abs(pixels(together.image) - pixels(single.image)).max() <= 1


def test_on_step_counts_to_total_with_jpeg_previews_every_other_step(host):
    calls = []

    host.render(
        request(shots=[Shot("a", seed=1), Shot("b", seed=2)]),
        on_step=lambda *args: calls.append(args),
        preview_every=2,
    )

    assert [(step, total) for step, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [previews is None for _, _, previews in calls] == [True, False, True, False]
    for preview in calls[1][2]:
        assert Image.open(io.BytesIO(preview)).format == "JPEG"
    assert len(calls[1][2]) == 2  # one per shot


def test_previews_are_at_most_256_px_on_the_long_side():
    # Checked without a render: the tiny model takes seconds per step above 256 px.
    latents = torch.randn(2, 4, 8, 16)

    previews = latents_to_jpegs(latents, preview_size(1024, 512))

    assert [Image.open(io.BytesIO(p)).size for p in previews] == [(256, 128)] * 2
    assert preview_size(96, 64) == (96, 64)


def test_should_stop_interrupts_after_the_first_step(host):
    steps = []

    with pytest.raises(RenderInterrupted):
        host.render(
            request(), on_step=lambda step, *_: steps.append(step), should_stop=lambda: True
        )

    assert steps == [1]
    assert host.render(request())[0].image.size == (64, 64)  # the next render runs normally


def test_variation_runs_steps_times_strength(host):
    calls = []
    shot = Shot("a lighthouse", seed=1, init_image=picture(0))

    [rendered] = host.render(
        request("variation", [shot], steps=4, strength=0.5),
        on_step=lambda *args: calls.append(args[:2]),
    )

    assert calls == [(1, 2), (2, 2)]
    assert rendered.image.size == (64, 64)


def test_variation_resizes_the_init_image_to_the_requested_size(host):
    shot = Shot("a lighthouse", seed=1, init_image=picture(0).resize((40, 40)))

    [rendered] = host.render(request("variation", [shot], width=64, height=48))

    assert rendered.image.size == (64, 48)


def test_inpaint_keeps_unmasked_pixels_exactly(host):
    source, mask = picture(0), square_mask()
    shot = Shot("a window", seed=1, init_image=source, mask_image=mask)

    [rendered] = host.render(request("inpaint", [shot], strength=1.0))

    keep = np.asarray(mask) == 0
    result = pixels(rendered.image)
    assert np.array_equal(result[keep], pixels(source)[keep])
    assert not np.array_equal(result[~keep], pixels(source)[~keep])


def test_inpaint_batched_matches_alone(host):
    shots = [
        Shot("a window", seed=1, init_image=picture(0), mask_image=square_mask()),
        Shot("a door", seed=2, init_image=picture(1), mask_image=square_mask()),
    ]

    batched = host.render(request("inpaint", shots))
    alone = host.render(request("inpaint", shots[1:]))

    assert np.abs(pixels(batched[1].image) - pixels(alone[0].image)).max() <= 1


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_output_is_scale_times_the_input(host, scale):
    shots = [
        Shot("sharp", seed=1, init_image=picture(0)),
        Shot("sharp", seed=2, init_image=picture(1)),
    ]

    rendered = host.render(
        request("upscale", shots, model=f"tiny-upscale-x{scale}", width=64, height=32, steps=2)
    )

    assert [r.image.size for r in rendered] == [(64 * scale, 32 * scale)] * 2


def test_video_returns_num_frames_frames_and_previews_the_middle_one(host):
    calls = []

    [rendered] = host.render(
        request("video", num_frames=6, steps=2),
        on_step=lambda *args: calls.append(args),
    )

    assert rendered.image is None
    assert len(rendered.frames) == 6
    assert {frame.size for frame in rendered.frames} == {(64, 64)}
    assert len(calls[1][2]) == 1


def test_tool_pipelines_share_the_base_pipelines_weights(host):
    host.render(request("variation", [Shot("a", seed=1, init_image=picture(0))]))
    shot = Shot("a", seed=1, init_image=picture(0), mask_image=square_mask())
    host.render(request("inpaint", [shot]))

    base = host._bases["tiny"]
    for tool in ("variation", "inpaint"):
        derived = host._tool_pipes["tiny", tool]
        assert derived.unet is base.unet
        assert derived.vae is base.vae
        assert derived.text_encoder is base.text_encoder


def test_load_returns_zero_when_the_model_is_warm(host):
    host.load("tiny")

    assert host.load("tiny") == 0.0


def test_a_second_host_loads_the_saved_model_without_rebuilding_it(host, cache_dir):
    host.load("tiny")
    weights = cache_dir / "tiny-sd" / "unet" / "diffusion_pytorch_model.safetensors"
    built_at = weights.stat().st_mtime_ns

    other = PipelineHost(MODELS, cache_dir, device="cpu")

    assert other.load("tiny") > 0.0
    assert weights.stat().st_mtime_ns == built_at
    assert str(other._bases["tiny"].config["_name_or_path"]) == str(cache_dir / "tiny-sd")


def test_builtins_are_identical_wherever_they_are_built(tmp_path):
    first = ensure_builtin("tiny-motion", tmp_path / "a")
    second = ensure_builtin("tiny-motion", tmp_path / "b")

    name = "diffusion_pytorch_model.safetensors"
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_building_leaves_the_global_random_state_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)

    ensure_builtin("tiny-motion", tmp_path)

    assert torch.equal(torch.rand(3), expected)


def test_unknown_model_raises_a_key_error_naming_it(host):
    with pytest.raises(KeyError, match="no-such-model"):
        host.render(request(model="no-such-model"))


def test_unloadable_source_raises_model_load_error(host):
    with pytest.raises(ModelLoadError, match="/nonexistent/slate-model"):
        host.load("missing")


def test_a_tool_the_model_does_not_offer_is_refused(host):
    with pytest.raises(ValueError, match="upscale"):
        host.render(request("upscale", [Shot("a", seed=1, init_image=picture(0))]))


def test_sizes_off_the_8_px_grid_are_refused(host):
    with pytest.raises(ValueError, match="multiples of 8"):
        host.render(request(width=60))


def test_sd_turbo_arch_has_sd_turbos_shape():
    with init_empty_weights():  # parameters on the meta device: no 5 GB of random weights
        pipe = build_sd_turbo_arch()

    unet_parameters = sum(p.numel() for p in pipe.unet.parameters())
    assert round(unet_parameters / 1e6) == 866  # SD 2.1's UNet
    assert pipe.vae_scale_factor == 8
    assert pipe.text_encoder.config.hidden_size == 1024
    assert pipe.scheduler.config.timestep_spacing == "trailing"


def test_the_web_side_modules_do_not_import_torch():
    code = (
        "import sys, generation.pipelines.spec, generation.media, generation.pipelines;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_video_pipeline_keeps_one_copy_of_the_unet_weights(host):
    host.load("tiny")  # warm whichever test process this runs in (xdist splits the module)
    base = host._bases["tiny"]
    video = host._pipe_for("tiny", "video")
    base_storage = {p.data_ptr() for p in base.unet.parameters()}
    motion = {name: p for name, p in video.unet.named_parameters()}
    copied = [
        n
        for n, p in motion.items()
        if "motion_modules" not in n and p.data_ptr() not in base_storage
    ]
    assert copied == []
