"""A fixed cast and real processes.

The cast: Dana directs and owns the project, Arti is an artist, Vic a viewer, Olga an outsider.
`worker` and `studio` start real processes (an RQ worker, daphne) on the test database and the
test Redis database; tests that use them need committed data (`transactional_db`).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from storyboards import services as boards

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def clean_redis():
    """Tests own their queue on the test Redis database (tests.settings picks both)."""
    from generation.jobs import export_queue, queue

    queue().empty()
    export_queue().empty()


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_user(django_user_model, name):
    return django_user_model.objects.create_user(name, password=f"{name}-secret-pw")


@pytest.fixture
def dana(django_user_model):
    return make_user(django_user_model, "dana")


@pytest.fixture
def arti(django_user_model):
    return make_user(django_user_model, "arti")


@pytest.fixture
def vic(django_user_model):
    return make_user(django_user_model, "vic")


@pytest.fixture
def olga(django_user_model):
    return make_user(django_user_model, "olga")


@pytest.fixture
def project(dana, arti, vic):
    project = boards.project_create(user=dana, name="Night Shift")
    boards.member_add(project=project, username="arti", role="artist")
    boards.member_add(project=project, username="vic", role="viewer")
    return project


@pytest.fixture
def storyboard(project, dana):
    return boards.storyboard_create(project=project, user=dana, title="Opening")


@pytest.fixture
def panel(storyboard, dana):
    return boards.panel_create(storyboard=storyboard, user=dana, prompt="a diner at night, rain")


def token_for(user) -> str:
    return boards.token_issue(user=user)


@pytest.fixture
def api(client):
    """Call the JSON API as someone: api(user).post(path, json)."""

    class As:
        def __init__(self, user):
            self.headers = {"Authorization": f"Bearer {token_for(user)}"} if user else {}

        def _send(self, method, path, body=None):
            kwargs = {"content_type": "application/json", "headers": self.headers}
            if body is not None:
                kwargs["data"] = body
            return getattr(client, method)(f"/api{path}", **kwargs)

        def get(self, path):
            return self._send("get", path)

        def post(self, path, body=None):
            return self._send("post", path, body if body is not None else {})

        def patch(self, path, body):
            return self._send("patch", path, body)

        def delete(self, path):
            return self._send("delete", path)

    return As


# --- real processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra) -> dict:
    from django.db import connection

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": settings.REDIS_URL,
        "SLATE_QUEUE": settings.SLATE_QUEUE,
        "SLATE_EXPORT_QUEUE": settings.SLATE_EXPORT_QUEUE,
        "SLATE_CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "SLATE_DB_NAME": str(connection.settings_dict["NAME"]),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SLATE_MODEL_DIR": str(settings.SLATE_MODEL_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Processes:
    def __init__(self, tmp_path):
        self.procs: list[subprocess.Popen] = []
        self.tmp_path = tmp_path

    def start(self, args, name, **env) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def worker(self, **env) -> subprocess.Popen:
        args = [
            "manage.py",
            "rqworker",
            settings.SLATE_QUEUE,
            "--worker-class",
            "generation.worker.TakeWorker",
        ]
        return self.start(args, "worker", **env)

    def export_worker(self, **env) -> subprocess.Popen:
        """An export worker (`manage.py exportworker`, as `make run` starts it)."""
        return self.start(["manage.py", "exportworker"], "export-worker", **env)

    def studio(self, **env) -> str:
        port = free_port()
        self.start(
            ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"],
            "daphne",
            **env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return f"127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start")

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(Path(p.log_path).read_text(errors="replace")[-3000:] for p in self.procs)


@pytest.fixture
def processes(transactional_db, tmp_path, media_root):
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


def wait_for(predicate, timeout=60, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def browser_or_skip():
    """Debian's Chromium through Playwright; skips with a reason unless REQUIRE_BROWSER is set."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(
                "REQUIRE_BROWSER is set but Chromium is not installed (apt-get install chromium)"
            )
        pytest.skip(
            "Chromium is not installed (apt-get install chromium); CI sets REQUIRE_BROWSER=1"
        )
    return path
