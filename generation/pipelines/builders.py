"""Random-weight models standing in for real checkpoints: tests, offline demos, benchmarks.

Each builtin is built once from configs with a fixed seed, so every machine gets the same weights,
saved with `save_pretrained` into `<cache_dir>/<name>/`, and from then on loaded with
`from_pretrained` like any downloaded model. The load path is the one real models take.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    EulerDiscreteScheduler,
    MotionAdapter,
    StableDiffusionPipeline,
    StableDiffusionUpscalePipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from generation.filelock import locked

BUILTIN_PREFIX = "builtin:"
SEED = 0
# Only the big benchmark model is worth saving in half precision; the small ones stay float32 so
# their weights are bit-identical whichever machine built them.
HALF_PRECISION_BUILTINS = {"sd-turbo-arch"}


def builtin_name(source: str) -> str | None:
    """The builtin's name ("tiny-sd" for "builtin:tiny-sd"); None for a hub id or a directory."""
    return source.removeprefix(BUILTIN_PREFIX) if source.startswith(BUILTIN_PREFIX) else None


def ensure_builtin(name: str, cache_dir: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Directory holding the saved builtin `name`, building it first if no process has yet."""
    if name not in BUILTINS:
        raise KeyError(f"unknown builtin model {name!r}; known: {', '.join(sorted(BUILTINS))}")
    cache_dir = Path(cache_dir)
    target = cache_dir / name
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Two workers may start together: one builds, the other waits and then finds the directory.
    with locked(cache_dir / f"{name}.lock"):
        if not target.is_dir():
            _build_into(name, target, dtype)
    return target


def _build_into(name: str, target: Path, dtype: torch.dtype) -> None:
    # Save into a scratch directory and rename: a reader never sees a half-written model.
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    scratch.chmod(0o755)  # mkdtemp makes it private; other users' workers may load it too
    try:
        with torch.random.fork_rng():  # leave the caller's random state alone
            torch.manual_seed(SEED)
            model = BUILTINS[name]()
        if name in HALF_PRECISION_BUILTINS and dtype == torch.float16:
            model.to(dtype=torch.float16)
        model.save_pretrained(scratch)
        os.rename(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


# --- Shared parts --------------------------------------------------------------------------------


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for raw bytes (GPT-2's bytes_to_unicode)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    stand_ins = 256 + len([b for b in range(256) if b not in printable])
    return [chr(c) for c in printable] + [chr(c) for c in range(256, stand_ins)]


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer with a byte-level vocabulary and no merges: prompts split into letters.

    Ids: 0-255 bytes, 256-511 bytes ending a word, 512 start of text, 513 end of text.
    model_max_length must be given: without it transformers 5 pads prompts to about 1e30 tokens.
    """
    letters = _byte_alphabet()
    vocab = {letter: i for i, letter in enumerate(letters)}
    vocab |= {f"{letter}</w>": 256 + i for i, letter in enumerate(letters)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _text_encoder(
    hidden: int, layers: int, heads: int, intermediate: int, **extra
) -> CLIPTextModel:
    config = CLIPTextConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=77,
        bos_token_id=512,
        eos_token_id=513,
        pad_token_id=513,
        **{"vocab_size": 1000, **extra},
    )
    return CLIPTextModel(config)


def _unet(channels: tuple[int, ...], cross_attention_dim: int, **extra) -> UNet2DConditionModel:
    """The small models' UNet: a plain convolution block on top, cross-attention in those below.

    `extra` overrides any default, down to the block types (SD 2.1 has attention on top instead).
    """
    depth = len(channels)
    defaults = {
        "down_block_types": ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (depth - 1),
        "up_block_types": ("CrossAttnUpBlock2D",) * (depth - 1) + ("UpBlock2D",),
        "layers_per_block": 1,
        "attention_head_dim": 8,
        "in_channels": 4,
        "out_channels": 4,
    }
    return UNet2DConditionModel(
        block_out_channels=channels, cross_attention_dim=cross_attention_dim, **(defaults | extra)
    )


def _vae(channels: tuple[int, ...], **extra) -> AutoencoderKL:
    """Each block after the first halves the image: n blocks shrink it 2 ** (n - 1) times."""
    return AutoencoderKL(
        block_out_channels=channels,
        down_block_types=("DownEncoderBlock2D",) * len(channels),
        up_block_types=("UpDecoderBlock2D",) * len(channels),
        latent_channels=4,
        **extra,
    )


def _euler(**extra) -> EulerDiscreteScheduler:
    # steps_offset=1 is what SD checkpoints ship; 0 makes the SD pipeline warn on every load.
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, **extra
    )


def _sd_pipeline(unet, vae, text_encoder) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(),
        scheduler=_euler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


# --- The builtins --------------------------------------------------------------------------------


def build_tiny_sd() -> StableDiffusionPipeline:
    """About 1.7 M parameters; a 2-block VAE, so latents are half the image size, not an eighth."""
    return _sd_pipeline(
        unet=_unet((32, 64), cross_attention_dim=32, sample_size=32),
        vae=_vae((32, 64), sample_size=64),
        text_encoder=_text_encoder(hidden=32, layers=2, heads=4, intermediate=37),
    )


def build_small_sd() -> StableDiffusionPipeline:
    """SD's shape (8x VAE, three UNet levels) scaled down to about 60 M parameters.

    Sized for the benchmark: 128 px, 4 guided steps take about half a second on 2 CPU cores.
    """
    return _sd_pipeline(
        unet=_unet((96, 192, 384), cross_attention_dim=128, layers_per_block=2, sample_size=16),
        vae=_vae((32, 64, 128, 128), sample_size=128),
        text_encoder=_text_encoder(hidden=128, layers=4, heads=4, intermediate=512),
    )


def build_sd_turbo_arch() -> StableDiffusionPipeline:
    """SD-Turbo's real architecture (SD 2.1) with random weights: benchmarks with no download."""
    unet = _unet(
        (320, 640, 1280, 1280),
        cross_attention_dim=1024,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        layers_per_block=2,
        attention_head_dim=(5, 10, 20, 20),
        use_linear_projection=True,
        sample_size=64,
    )
    vae = _vae((128, 256, 512, 512), layers_per_block=2, sample_size=768)
    text_encoder = _text_encoder(
        hidden=1024,
        layers=23,
        heads=16,
        intermediate=4096,
        hidden_act="gelu",
        projection_dim=1024,
        vocab_size=49408,
    )
    pipe = _sd_pipeline(unet=unet, vae=vae, text_encoder=text_encoder)
    pipe.scheduler = _euler(timestep_spacing="trailing")
    return pipe


def build_tiny_motion() -> MotionAdapter:
    """Motion modules shaped to slot into tiny-sd's UNet (same channels and layers per block)."""
    return MotionAdapter(
        block_out_channels=(32, 64),
        motion_layers_per_block=1,
        motion_norm_num_groups=16,
        motion_num_attention_heads=4,
        motion_max_seq_length=32,
    )


def _build_tiny_upscale(scale: int) -> StableDiffusionUpscalePipeline:
    # The VAE's downscale factor is the upscale factor: latents stay at the input size and the
    # decoder enlarges them. The UNet sees 4 latent channels plus the 3 of the noised input image.
    vae_channels = {2: (32, 64), 4: (32, 64, 64)}[scale]
    return StableDiffusionUpscalePipeline(
        unet=_unet(
            (32, 64), cross_attention_dim=32, in_channels=7, num_class_embeds=1000, sample_size=32
        ),
        vae=_vae(vae_channels, scaling_factor=0.08333),
        text_encoder=_text_encoder(hidden=32, layers=2, heads=4, intermediate=37),
        tokenizer=tiny_tokenizer(),
        low_res_scheduler=DDPMScheduler(),
        scheduler=_euler(prediction_type="v_prediction"),
        max_noise_level=350,
    )


BUILTINS: dict[str, Callable[[], object]] = {
    "tiny-sd": build_tiny_sd,
    "small-sd": build_small_sd,
    "sd-turbo-arch": build_sd_turbo_arch,
    "tiny-motion": build_tiny_motion,
    "tiny-upscale-x2": lambda: _build_tiny_upscale(2),
    "tiny-upscale-x4": lambda: _build_tiny_upscale(4),
}
