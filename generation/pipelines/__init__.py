"""The torch side of Slate: diffusers pipelines, one file per task, kept warm by PipelineHost.

The web process imports `generation.pipelines.spec`, which runs this file first, so nothing here
may import torch eagerly: PipelineHost is loaded on first use (PEP 562 module __getattr__).
"""

from .spec import ModelLoadError, Rendered, RenderInterrupted, RenderRequest, Shot, check_request

__all__ = [
    "ModelLoadError",
    "PipelineHost",
    "RenderInterrupted",
    "RenderRequest",
    "Rendered",
    "Shot",
    "check_request",
    "pick_device",
]


def __getattr__(name: str):
    if name in ("PipelineHost", "pick_device"):
        from . import host

        return getattr(host, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
