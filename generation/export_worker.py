"""The export worker: claims export rows and renders them with generation.exporters.

Started by `manage.py exportworker` (rqworker on SLATE_EXPORT_QUEUE with ExportWorker). Like the
take worker it is an RQ SimpleWorker whose jobs are only wake-ups, with the same background loop
(generation/worker.py): heartbeats for the running export and a periodic reconcile, so a killed
export worker leaves nothing stuck. It imports no torch.
"""

import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from django.conf import settings

from . import export_services, failures
from .models import Export
from .worker import RowWorker

log = logging.getLogger(__name__)

UNKNOWN = "Something went wrong while making this export. The studio has logged the details."
SCRATCH_PREFIX = "slate-exports-"  # + the worker's pid: one scratch folder per export worker

_exporter = None


def exporter() -> "Exporter":
    global _exporter
    if _exporter is None:
        _exporter = Exporter()
    return _exporter


class ExportLost(Exception):
    """The reconciler took the export back (this worker was presumed dead): stop rendering."""


class ExportRun:
    """One export being rendered: throttled progress events, heartbeats, and the stop check."""

    def __init__(self, export: Export):
        self.export = export
        self.lost = False
        self._last_event = self._last_beat = 0.0

    def on_progress(self, fraction: float) -> None:
        """The renderer's callback (0..1); raises ExportLost once the claim is gone."""
        now = time.monotonic()
        if now - self._last_event >= 1 / settings.SLATE_PROGRESS_HZ or fraction >= 1:
            self._last_event = now
            export_services.export_report_progress(export=self.export, progress=fraction)
        if now - self._last_beat >= 0.5:
            self._last_beat = now
            self.beat(progress=min(max(fraction, 0.0), 1.0))
        if self.lost:
            raise ExportLost(self.export.id)
        if settings.SLATE_STEP_DELAY_S and fraction < 1:  # tests and rehearsals: a long export
            time.sleep(settings.SLATE_STEP_DELAY_S)

    def beat(self, progress: float | None = None) -> None:
        if not export_services.export_heartbeat(export=self.export, progress=progress):
            self.lost = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def scratch_folder() -> Path:
    """This worker's scratch folder, after removing those of export workers that are gone: a
    kill -9 skips the cleanup of their work (an animatic's stills are a megabyte or more a
    panel), and a worker that keeps dying would fill the disk one attempt at a time."""
    base = Path(tempfile.gettempdir())
    for folder in base.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX)
        if pid.isascii() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = base / f"{SCRATCH_PREFIX}{os.getpid()}"
    mine.mkdir(exist_ok=True)
    return mine


class Exporter:
    def __init__(self):
        self.name = f"{socket.gethostname()}:{os.getpid()}:exports"
        self.current: ExportRun | None = None
        self.scratch = scratch_folder()

    def serve(self) -> int:
        export = export_services.export_claim(worker=self.name)
        if export is None:
            return 0
        self.current = ExportRun(export)
        try:
            self.run(self.current)
        finally:
            self.current = None
        return 1

    def run(self, run: ExportRun) -> None:
        from .exporters import render_export

        export = run.export
        prefix = f"export-{export.id}-"
        with tempfile.TemporaryDirectory(prefix=prefix, dir=self.scratch) as workdir:
            try:
                files = render_export(
                    export=export, workdir=Path(workdir), on_progress=run.on_progress
                )
                run.beat()  # learn whether the export is still ours before storing it
                if not run.lost:
                    export_services.export_succeed(export=export, files=files)
            except ExportLost:
                log.warning("export %s was taken back while rendering; dropped", export.id)
            # A bad board or a crash in a renderer fails this export, not the worker.
            except Exception as error:
                log.exception("export %s failed", export.id)
                sentence = failures.explain(error)
                export_services.export_fail(
                    export=export, error=UNKNOWN if sentence == failures.UNKNOWN else sentence,
                    error_detail=failures.detail(error),
                )  # fmt: skip


class ExportWorker(RowWorker):
    def prepare(self) -> None:
        exporter()  # sweeps the scratch of workers that died, before the first export

    def current(self) -> ExportRun | None:
        return exporter().current

    def reconcile(self) -> dict:
        return export_services.exports_reconcile()
