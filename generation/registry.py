"""The model registry: which models exist, what they can do and within which limits.

Entries live in settings.SLATE_MODELS (see README, "Adding a real model"). This module never
imports torch: the web process validates requests with it.
"""

from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class ModelSpec:
    key: str
    label: str
    kind: str
    source: str
    tools: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    timeout_s: int = 300
    revision: str | None = None
    scale: int | None = None
    upscalers: dict = field(default_factory=dict)
    # The text encoder's window, its start and end markers included: CLIP's 77 for the SD family.
    # generation/prompting.py fits the composed prompt into it and says what it cut.
    max_prompt_tokens: int = 77

    @property
    def max_batch(self) -> int:
        return int(self.limits.get("max_batch", 1))


def model_get(key: str) -> ModelSpec | None:
    entry = settings.SLATE_MODELS.get(key)
    if entry is None:
        return None
    return ModelSpec(
        key=key,
        label=entry.get("label", key),
        kind=entry["kind"],
        source=entry["source"],
        tools=tuple(entry.get("tools", ["text2image"])),
        defaults=dict(entry.get("defaults", {})),
        limits=dict(entry.get("limits", {})),
        timeout_s=int(entry.get("timeout_s", 300)),
        revision=entry.get("revision"),
        scale=entry.get("scale"),
        upscalers={int(k): v for k, v in entry.get("upscalers", {}).items()},
        max_prompt_tokens=int(entry.get("max_prompt_tokens", 77)),
    )


def default_model() -> ModelSpec:
    return model_get(settings.SLATE_DEFAULT_MODEL)
