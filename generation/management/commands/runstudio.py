"""`make run`: the web server, one GPU worker and one export worker in the foreground, the
workers kept alive.

A worker that dies (crash, OOM, kill -9) is restarted after a short pause; the web server keeps
serving meanwhile. Ctrl-C stops them all.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run daphne, supervised take workers and a supervised export worker together."

    def answers(self, host: str, port: int, web, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and web.poll() is None:
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.2)
        self.stderr.write(f"the web server did not answer on {host}:{port}; see its output above")
        return False

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("SLATE_WORKERS", 1)))

    def handle(self, *args, port, host, workers, **options):
        python = sys.executable
        web_cmd = [python, "-m", "daphne", "-b", host, "-p", str(port), "studio.asgi:application"]
        worker_cmd = [
            python,
            "manage.py",
            "rqworker",
            settings.SLATE_QUEUE,
            "--worker-class",
            "generation.worker.TakeWorker",
        ]
        export_cmd = [python, "manage.py", "exportworker"]
        commands = [worker_cmd] * workers + [export_cmd]
        web = subprocess.Popen(web_cmd)
        pool = [subprocess.Popen(command) for command in commands]
        if self.answers(host, port, web):  # the URL only once it works
            self.stdout.write(
                self.style.SUCCESS(f"Slate is running at http://{host}:{port}/  (Ctrl-C stops it)")
            )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                time.sleep(1)
                if web.poll() is not None:
                    self.stderr.write(f"web server exited ({web.returncode}); restarting it")
                    web = subprocess.Popen(web_cmd)
                for i, worker in enumerate(pool):
                    if worker.poll() is not None and not stopping:
                        self.stderr.write(
                            f"worker {worker.pid} exited ({worker.returncode}); restarting it"
                        )
                        pool[i] = subprocess.Popen(commands[i])
        finally:
            for proc in [web, *pool]:
                if proc.poll() is None:
                    proc.terminate()
            for proc in [web, *pool]:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
