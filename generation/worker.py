"""The GPU worker: keeps pipelines warm in its own process and runs claimed takes.

Started by `manage.py rqworker takes --worker-class generation.worker.TakeWorker`. TakeWorker is
an RQ SimpleWorker: jobs run in the worker's own process (no fork after torch is imported, no
model load per job). A background thread beats the heart of running takes and reconciles the
database with Redis every few seconds, so a killed worker or an emptied Redis strands nothing.
"""

import io
import json
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from rq.worker import SimpleWorker

from . import failures, provenance, services
from .models import Take, Tool
from .pipelines.spec import TOOLS_WITH_INIT_IMAGE

log = logging.getLogger(__name__)

_engine = None


def engine() -> "Engine":
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine


class Progress:
    """Step callback state for one batch: throttled events, heartbeats and stop checks."""

    def __init__(self, takes: list[Take], timeout_s: float):
        self.takes = takes
        self.deadline = time.monotonic() + timeout_s
        self.stopped: set[int] = set()  # cancelled, or taken back by the reconciler
        self.timed_out = False
        self._last_event = self._last_beat = 0.0

    def live(self) -> list[Take]:
        return [t for t in self.takes if t.id not in self.stopped]

    def on_step(self, step: int, total: int, previews: list[bytes] | None) -> None:
        now = time.monotonic()
        fraction = step / total if total else 1.0
        if previews or now - self._last_event >= 1 / settings.SLATE_PROGRESS_HZ or step == total:
            self._last_event = now
            live = self.live()
            shown = [previews[self.takes.index(t)] for t in live] if previews else None
            services.take_report_progress(takes=live, progress=fraction, previews=shown)
        if now - self._last_beat >= 0.5:
            self._last_beat = now
            self.beat(progress=fraction)
        if settings.SLATE_STEP_DELAY_S and step < total:
            time.sleep(settings.SLATE_STEP_DELAY_S)

    def beat(self, progress: float | None = None) -> None:
        self.stopped |= services.takes_heartbeat(takes=self.takes, progress=progress)

    def should_stop(self) -> bool:
        self.timed_out = time.monotonic() > self.deadline
        return self.timed_out or len(self.stopped) == len(self.takes)


class Engine:
    def __init__(self):
        from .pipelines import PipelineHost

        if threads := os.environ.get("SLATE_TORCH_THREADS"):
            import torch  # a busy small machine runs faster with fewer, uncontended threads

            torch.set_num_threads(int(threads))
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.host = PipelineHost(
            models=settings.SLATE_MODELS,
            cache_dir=settings.SLATE_MODEL_DIR,
            device=os.environ.get("SLATE_DEVICE") or None,  # else CUDA, MPS, CPU in that order
        )
        self.current: Progress | None = None

    def serve(self) -> int:
        takes = services.take_claim_batch(worker=self.name)
        if takes:
            self.run(takes)
        return len(takes)

    def run(self, takes: list[Take]) -> None:
        head = takes[0]
        spec_timeout = (settings.SLATE_MODELS.get(head.model_key) or {}).get("timeout_s", 300)
        progress = self.current = Progress(takes, spec_timeout)
        timings = {
            "queue_wait_s": [round((t.started_at - t.queued_at).total_seconds(), 3) for t in takes]
        }
        t0 = time.monotonic()
        try:
            self.render_and_save(progress, timings, t0, spec_timeout)
        finally:
            self.current = None  # heartbeats cover loading, sampling and saving

    def render_and_save(
        self, progress: Progress, timings: dict, t0: float, spec_timeout: float
    ) -> None:
        from .pipelines import RenderInterrupted

        takes, head = progress.takes, progress.takes[0]
        try:
            timings["load_s"] = round(self.host.load(head.model_key), 3)
            t1 = time.monotonic()
            rendered = self.host.render(
                self.request_for(takes), on_step=progress.on_step,
                should_stop=progress.should_stop, preview_every=settings.SLATE_PREVIEW_EVERY,
            )  # fmt: skip
            timings["sampling_s"] = round(time.monotonic() - t1, 3)
        except RenderInterrupted:
            self.end_interrupted(progress, time.monotonic() - t0, spec_timeout)
            return
        # A bad model or a crash in a pipeline fails these takes, not the worker.
        except Exception as error:
            log.exception("takes %s failed", [t.id for t in takes])
            self.end_failed(progress, takes, error, time.monotonic() - t0)
            return
        self.save(progress, rendered, timings, time.monotonic() - t0)

    def end_failed(
        self, progress: Progress, takes: list[Take], error: Exception, elapsed: float
    ) -> None:
        share = elapsed / len(progress.takes)
        # People read a sentence; the traceback goes to the log (above) and to the admin.
        sentence, detail = failures.explain(error), failures.detail(error)
        for take in takes:
            if take.id in progress.stopped:  # someone cancelled it before the crash
                services.take_mark_cancelled(take=take, gpu_seconds=share)
            else:
                services.take_fail(
                    take=take, error=sentence, error_detail=detail, gpu_seconds=share
                )

    def request_for(self, takes: list[Take]):
        from .pipelines import RenderRequest, Shot

        head = takes[0]
        shots = [
            Shot(prompt=t.prompt, negative_prompt=t.negative_prompt, seed=t.seed,
                 init_image=_init_image(t),
                 mask_image=_open_image(t.mask, "mask").convert("L") if t.mask else None)
            for t in takes
        ]  # fmt: skip
        return RenderRequest(
            model=head.model_key, tool=_render_tool(head), shots=shots, width=head.width,
            height=head.height, steps=head.steps, guidance=head.guidance,
            strength=head.strength if head.strength is not None else 0.6,
            num_frames=head.num_frames or 8, fps=head.fps or 8,
        )  # fmt: skip

    def end_interrupted(self, progress: Progress, elapsed: float, timeout_s: float) -> None:
        share = elapsed / len(progress.takes)
        for take in progress.takes:
            if progress.timed_out and take.id not in progress.stopped:
                services.take_fail(
                    take=take, gpu_seconds=share,
                    error=f"Timed out after {timeout_s:g} s, this model's limit. "
                    "Try fewer steps or a smaller frame.",
                    error_detail=f"Stopped by the registry's timeout_s={timeout_s} after "
                    f"{elapsed:.1f} s (batch of {len(progress.takes)}).",
                )  # fmt: skip
            else:
                services.take_mark_cancelled(take=take, gpu_seconds=share)

    def save(self, progress: Progress, rendered: list, timings: dict, elapsed: float) -> None:
        from .media import encode_png

        progress.beat()  # learn about cancels that arrived during the last steps
        share = elapsed / len(progress.takes)
        for i, (take, result) in enumerate(zip(progress.takes, rendered, strict=True)):
            if take.id in progress.stopped:
                services.take_mark_cancelled(take=take, gpu_seconds=share)
                continue
            t0 = time.monotonic()
            try:
                frames = result.frames
                png = encode_png(frames[0] if frames else result.image, _png_metadata(take))
                mp4 = _encode_video(frames, take.fps or 8) if frames else None
                png, mp4, signing = provenance.take_sign(take=take, png=png, mp4=mp4)
                own = {**timings, "queue_wait_s": timings["queue_wait_s"][i], "batch_size": len(rendered),
                       "save_s": round(time.monotonic() - t0, 3), **signing}  # fmt: skip
                services.take_succeed(take=take, png=png, mp4=mp4, timings=own, gpu_seconds=share)
            except (
                Exception
            ) as error:  # storage full, encoder crash: this take fails, the rest go on
                log.exception("saving take %s failed", take.id)
                self.end_failed(progress, [take], error, elapsed)


def _render_tool(take: Take) -> str:
    """A text-to-image take with a reference picture renders as a variation of that picture
    (takes with and without one never share a batch: see Take.batch_key)."""
    return Tool.VARIATION.value if take.tool == Tool.TEXT2IMAGE and take.reference else take.tool


def _init_image(take: Take):
    if take.tool == Tool.TEXT2IMAGE and take.reference:
        from PIL import ImageOps

        # A character's portrait fills the panel's frame, cropped rather than squashed.
        picture = _open_image(take.reference, "image")
        return ImageOps.fit(picture, (take.width, take.height))
    if take.tool not in TOOLS_WITH_INIT_IMAGE:
        return None
    # A parent deleted since the request leaves nothing to start from: the same as a lost file.
    return _open_image(take.parent.image if take.parent_id else None, "image")


def _open_image(field, part: str):
    """A source picture (`part`: "image" or "mask"), failing with what people can be told."""
    from PIL import Image

    if not field:
        raise failures.SourceMissing(part)
    try:
        with field.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError as error:
        raise failures.SourceMissing(part) from error
    except OSError as error:  # there, but the disk or the storage service would not give it
        raise failures.SourceUnreadable(part) from error
    try:
        return Image.open(io.BytesIO(data)).convert("RGB")
    except (Image.UnidentifiedImageError, OSError, ValueError) as error:
        raise failures.SourceUnreadable(part) from error


def _encode_video(frames: list, fps: int) -> bytes:
    from .media import encode_mp4

    try:
        return encode_mp4(frames, fps)
    except Exception as error:  # ffmpeg fails in many shapes; the cause stays in the detail
        raise failures.EncodeFailed(str(error)) from error


def _png_metadata(take: Take) -> dict[str, str]:
    """The take's record as PNG text: lists (the prompt's parts and cuts) as JSON."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in provenance.take_record(take).items()
    }


# --- the RQ worker ---------------------------------------------------------------------------


def _background(stop: threading.Event, worker: "RowWorker") -> None:
    """Heartbeats for what the worker runs now (also during a long model load) and a periodic
    reconcile. The same loop for take and export workers: `worker` says what and how."""
    next_reconcile = time.monotonic() + settings.SLATE_RECONCILE_EVERY_S
    while not stop.wait(settings.SLATE_HEARTBEAT_S):
        try:
            if (current := worker.current()) is not None:
                current.beat()
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + settings.SLATE_RECONCILE_EVERY_S
                worker.reconcile()
        except Exception:  # the database or Redis may blink; try again next beat
            log.exception("worker background pass failed")
        finally:
            close_old_connections()


class RowWorker(SimpleWorker):
    """An RQ SimpleWorker whose jobs are wake-ups for rows (generation/machinery.py): it
    reconciles at start, then beats the heart of its current run from a background thread."""

    def prepare(self) -> None:
        """Build what the jobs need before the first one (a warm engine)."""

    def current(self):
        """What runs now (anything with `beat()`), or None."""
        raise NotImplementedError

    def reconcile(self) -> dict:
        raise NotImplementedError

    def work(self, *args, **kwargs):
        self.prepare()
        log.info("reconcile at start: %s", self.reconcile())
        close_old_connections()
        stop = threading.Event()
        threading.Thread(
            target=_background, args=(stop, self), daemon=True, name="slate-beat"
        ).start()
        try:
            return super().work(*args, **kwargs)
        finally:
            stop.set()


class TakeWorker(RowWorker):
    def prepare(self) -> None:
        engine()  # build the host before the first job

    def current(self) -> Progress | None:
        return engine().current

    def reconcile(self) -> dict:
        return services.takes_reconcile()
