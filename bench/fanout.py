"""Live fan-out under load: how fast, and whether, a comment reaches every open storyboard socket.

One storyboard, watched by --pages browser pages (`/live`, session cookie, HTML fragments) and
--scripts scripts (`/events`, Bearer token, JSON), while --clients API clients read and write
panels and comments with no think time. Every --marker-every seconds a marker comment with a
unique body is posted on a panel of its own (load clients never touch it, so a marker is only
ever carried by its own comment.created event); each socket notes when it sees it. Latency is
that arrival minus the moment the marker's POST was sent; a socket that never sees it is a loss.
Three markers posted before the load starts give the idle figure.

daphne alone (no GPU worker) runs on a throwaway var dir (SQLite) and Redis database, never on
the developer's data. With --web-processes N, N daphne processes share them and every kind of
client is spread over them round-robin: a comment posted on one process must reach pages
connected to another.

    .venv/bin/python bench/fanout.py                                 # 100 pages, 100 scripts, 20 clients, 45 s
    .venv/bin/python bench/fanout.py --duration 10 --pages 20 --scripts 20 --clients 5
    .venv/bin/python bench/fanout.py --web-processes 2
    make bench FANOUT_ARGS="--web-processes 2"

The last line printed is one JSON object (fanout_* keys), for scripts and CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = "redis://127.0.0.1:6379/13"
USERNAME, PASSWORD = "bench", "bench-secret-pw-1"
MARKER_PREFIX = "marker-"
OPEN_BATCH = 20  # sockets opened at once: a page load storm, not a SYN flood
IDLE_MARKERS = 3
CLOSE_GRACE_S = 2  # after the mass close, before daphne is stopped: time to handle disconnects
RSS_EVERY_S = 0.1
# Anything inherited that could point the studio at the developer's database, media or queues.
ISOLATION_UNSET = {
    "DATABASE_URL", "SLATE_DB_NAME", "MEDIA_ROOT", "SECRET_KEY", "SLATE_MEDIA_STORAGE",
    "SLATE_MODELS_FILE", "SLATE_VAR_DIR", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SLATE_QUEUE",
    "SLATE_CHANNEL_PREFIX", "SLATE_DEVICE", "SLATE_TORCH_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
}  # fmt: skip
# Run inside `manage.py shell`: the bench user's project, one storyboard and its panels, and a
# writer per load client with an API token (no password: hashing one costs ~0.3 s of CPU).
SETUP = """
import json
from django.contrib.auth import get_user_model
from storyboards import services
User = get_user_model()
owner = User.objects.create_user({username!r}, password={password!r})
project = services.project_create(user=owner, name="Fan-out bench")
board = services.storyboard_create(project=project, user=owner, title="Fan-out")
panels = [services.panel_create(storyboard=board, user=owner, prompt=f"shot {{i + 1}}").id
          for i in range({panels})]
tokens = []
for i in range({clients}):
    user = User.objects.create_user(f"load-{{i + 1}}")
    services.member_add(project=project, username=user.username, role="writer")
    tokens.append(services.token_issue(user=user))
print(json.dumps({{"storyboard": board.id, "panels": panels, "tokens": tokens}}))
"""


def main() -> None:
    args = parse_args()
    print(
        f"fanout: {args.pages} pages, {args.scripts} scripts, {args.clients} API clients for "
        f"{args.duration:g} s, a marker every {args.marker_every:g} s, {args.panels} panels, "
        f"{args.web_processes} web process(es), {os.cpu_count()} CPUs, load {load_average()}",
        flush=True,
    )
    with Studio(args) as studio:
        studio.start()
        run = Run(args, studio)
        result = asyncio.run(run.main())
        peak_rss_mb = studio.stop_sampling() / 2**20
        studio.stop()  # before the scan: shutting down must not print tracebacks either
        log = studio.scan_logs()
    report(args, run, result, peak_rss_mb, log)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100, help="browser /live sockets (100)")
    parser.add_argument("--scripts", type=int, default=100, help="script /events sockets (100)")
    parser.add_argument("--clients", type=int, default=20, help="API clients, no think time (20)")
    parser.add_argument("--duration", type=float, default=45, help="seconds of load (45)")
    parser.add_argument("--marker-every", type=float, default=3, help="seconds (3)")
    parser.add_argument("--panels", type=int, default=12, help="panels on the storyboard (12)")
    parser.add_argument("--web-processes", type=int, default=1, help="daphne processes (1)")
    parser.add_argument("--drain", type=float, default=10,
                        help="seconds to wait for late markers after the load (10)")  # fmt: skip
    parser.add_argument("--redis-url", default=REDIS_URL, help="flushed first")
    parser.add_argument("--keep", action="store_true", help="keep the studio's temp dir and logs")
    args = parser.parse_args()
    if args.pages < 0 or args.scripts < 0 or args.clients < 0 or args.pages + args.scripts < 1:
        parser.error("--pages, --scripts and --clients must be at least 0, and one socket opened")
    if args.panels < 2 or args.web_processes < 1 or args.duration <= 0 or args.marker_every <= 0:
        parser.error("--panels must be at least 2 (one is the markers'), --web-processes at "
                     "least 1, --duration and --marker-every positive")  # fmt: skip
    return args


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- the studio ------------------------------------------------------------------------------


class Studio:
    """N daphne processes on a temporary var dir and a Redis database of their own."""

    def __init__(self, args):
        self.args = args
        self.var_dir = Path(tempfile.mkdtemp(prefix="slate-fanout-"))
        self.procs: list[subprocess.Popen] = []
        self.hosts: list[str] = []  # "127.0.0.1:port", one per daphne process
        self.sampler = None
        self.storyboard = None
        self.panels: list[int] = []
        self.load_tokens: list[str] = []
        self.token = self.session = None

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_sampling()
        self.stop()
        if exc[0] is not None:
            print(self.logs(), file=sys.stderr)
        if self.args.keep or exc[0] is not None:
            print(f"studio files kept in {self.var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ISOLATION_UNSET}
        env.update(
            DJANGO_SETTINGS_MODULE="studio.settings",
            SLATE_VAR_DIR=str(self.var_dir),
            REDIS_URL=self.args.redis_url,
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()
        env = self.env()
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        setup = SETUP.format(username=USERNAME, password=PASSWORD, panels=self.args.panels,
                             clients=self.args.clients)  # fmt: skip
        out = subprocess.run([*manage, "shell", "-v", "0", "-c", setup], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        made = json.loads(out.strip().splitlines()[-1])
        self.storyboard, self.panels, self.load_tokens = (
            made["storyboard"], made["panels"], made["tokens"],
        )  # fmt: skip
        ports = [free_port() for _ in range(self.args.web_processes)]
        for i, port in enumerate(ports):
            self._spawn(f"daphne-{i}", ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                        "studio.asgi:application"], env)  # fmt: skip
        for port in ports:
            wait_for_port(port, self.procs)
        self.hosts = [f"127.0.0.1:{port}" for port in ports]
        # Sampled from another process: a thread here would take this one's GIL from the
        # socket readers whose receive times are the latency figures.
        context = multiprocessing.get_context("spawn")
        self.stop_event, self.peak = context.Event(), context.Value("q", 0)
        self.sampler = context.Process(
            target=sample_rss, args=([p.pid for p in self.procs], self.stop_event, self.peak),
            daemon=True,
        )  # fmt: skip
        self.sampler.start()
        self.token = api_token(self.hosts[0])
        self.session = browser_session(self.hosts[0])

    def _spawn(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def stop_sampling(self) -> int:
        """Stop the RSS sampler; the peak it saw (all daphne processes together), in bytes."""
        if self.sampler is not None and self.sampler.is_alive():
            self.stop_event.set()
            self.sampler.join(timeout=5)
        return self.peak.value if self.sampler is not None else 0

    def cpu_seconds(self) -> float:
        """User + system CPU the daphne processes used so far."""
        import psutil

        total = 0.0
        for proc in self.procs:
            try:
                times = psutil.Process(proc.pid).cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def scan_logs(self) -> dict:
        """Tracebacks in the daphne logs by the exception that ended each, and the socket
        consumers daphne had to kill at shutdown (disconnects it never got to handle)."""
        kinds: Counter[str] = Counter()
        killed = 0
        for proc in self.procs:
            lines = Path(proc.log_path).read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if found := re.search(r"Killed (\d+) pending application instances", line):
                    killed += int(found[1])
                if line.startswith("Traceback"):  # its exception: the next unindented line
                    rest = (x for x in lines[i + 1 :] if x and not x.startswith(" "))
                    kinds[next(rest, "?")[:120]] += 1
        return {"tracebacks": sum(kinds.values()), "kinds": kinds, "killed": killed,
                "max_connections": sum(n for k, n in kinds.items() if "MaxConnectionsError" in k)}  # fmt: skip

    def logs(self) -> str:
        return "\n".join(
            f"--- {Path(p.log_path).name} ---\n"
            + Path(p.log_path).read_text(errors="replace")[-4000:]
            for p in self.procs
        )


def api_token(host: str) -> str:
    import httpx

    reply = httpx.post(f"http://{host}/api/auth/token", timeout=30,
                       json={"username": USERNAME, "password": PASSWORD})  # fmt: skip
    reply.raise_for_status()
    return reply.json()["token"]


def browser_session(host: str) -> str:
    """Sign in through the real login form, as a browser does; the sessionid cookie."""
    import httpx

    with httpx.Client(base_url=f"http://{host}", timeout=30) as browser:
        form = browser.get("/login/")
        form.raise_for_status()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if csrf is None:
            raise RuntimeError("no csrfmiddlewaretoken on /login/")
        reply = browser.post("/login/", data={"username": USERNAME, "password": PASSWORD,
                                              "csrfmiddlewaretoken": csrf[1]})  # fmt: skip
        session = browser.cookies.get("sessionid")
        if reply.status_code != 302 or not session:
            raise RuntimeError(f"login failed: {reply.status_code}, no sessionid cookie")
        return session


def sample_rss(pids: list[int], stop, peak) -> None:
    """Peak resident memory of the daphne processes together, every 100 ms, until stop is set."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    while not stop.is_set():
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak.value = max(peak.value, rss)
        time.sleep(RSS_EVERY_S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a daphne process exited while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("daphne did not start")


# --- the load --------------------------------------------------------------------------------


@dataclass(eq=False)
class Marker:
    body: str
    sent: float  # wall clock (time.time) when its POST left, like the events' `ts`
    comment: int | None = None  # the id from the 201; None while in flight or if it failed
    failed: bool = False
    post_s: float = 0.0


@dataclass(eq=False)
class Socket:
    kind: str  # "live" or "events"
    ws: object = None
    process: int = 0  # which daphne process it is connected to
    # Arrival times: /live by marker body (the text is searched), /events by comment id.
    seen: dict = field(default_factory=dict)
    messages: int = 0
    control: int = 0  # JSON control messages on /live (hello, ping, ...); /events: messages
    closed_early: str = ""  # why the server closed it before the end, if it did


@dataclass
class ApiStats:
    requests: int = 0
    errors: int = 0
    seconds: list[float] = field(default_factory=list)
    first_error: str = ""


class Run:
    """The whole measurement in one event loop: sockets, load clients, marker poster."""

    def __init__(self, args, studio: Studio):
        self.args, self.studio = args, studio
        self.hosts = studio.hosts
        self.marker_panel, self.load_panels = studio.panels[0], studio.panels[1:]
        self.markers: list[Marker] = []  # every marker, idle ones included: /live searches all
        self.idle: list[Marker] = []
        self.loaded: list[Marker] = []
        self.sockets: list[Socket] = []
        self.open_failures: dict[str, list[str]] = {"live": [], "events": []}
        self.readers: list[asyncio.Task] = []
        self.api = ApiStats()
        self.marker_posts: list[asyncio.Task] = []
        # comment id -> the event's `ts`: the server's wall clock when the comment was committed
        # and published (same machine, same clock), the start of the delivery latency.
        self.committed: dict[int, float] = {}

    async def main(self) -> dict:
        import httpx

        opened = time.perf_counter()
        await self.open_sockets()
        open_s = time.perf_counter() - opened
        host = self.hosts[0]
        async with httpx.AsyncClient(base_url=f"http://{host}/api", timeout=60,
                                     headers={"Authorization": f"Bearer {self.studio.token}"}
                                     ) as poster:  # fmt: skip
            for n in range(IDLE_MARKERS):  # one at a time, each given time to arrive everywhere
                marker = await self.post_marker(poster, f"idle{n}")
                self.idle.append(marker)
                await self.wait_delivered([marker], timeout=10)
                await asyncio.sleep(0.3)
            cpu_before, server_cpu_before = time.process_time(), self.studio.cpu_seconds()
            load_started = time.perf_counter()
            stop = asyncio.Event()
            clients = [asyncio.create_task(self.api_client(i, stop))
                       for i in range(self.args.clients)]  # fmt: skip
            marking = asyncio.create_task(self.post_markers(poster, stop))
            await asyncio.sleep(self.args.duration)
            stop.set()
            await asyncio.gather(marking, *clients)
            load_s = time.perf_counter() - load_started
            server_cpu_s = self.studio.cpu_seconds() - server_cpu_before
            cpu_s = time.process_time() - cpu_before
            await asyncio.gather(*self.marker_posts)
            drained = time.perf_counter()
            await self.wait_delivered(self.loaded, timeout=self.args.drain)
            drain_s = time.perf_counter() - drained
        closing = time.perf_counter()
        await self.close_sockets()
        close_s = time.perf_counter() - closing
        await asyncio.sleep(CLOSE_GRACE_S)
        return {"open_s": open_s, "load_s": load_s, "drain_s": drain_s, "bench_cpu_s": cpu_s,
                "server_cpu_s": server_cpu_s, "close_s": close_s}  # fmt: skip

    # --- sockets ---

    async def open_sockets(self) -> None:
        plan = [("live", i) for i in range(self.args.pages)]
        plan += [("events", i) for i in range(self.args.scripts)]
        for start in range(0, len(plan), OPEN_BATCH):
            await asyncio.gather(*(self.open_socket(kind, i)
                                   for kind, i in plan[start : start + OPEN_BATCH]))  # fmt: skip
        for kind, failures in self.open_failures.items():
            if failures:
                print(f"{len(failures)} {kind} sockets failed to open, e.g. {failures[0]}",
                      flush=True)  # fmt: skip

    async def open_socket(self, kind: str, i: int) -> None:
        from websockets.asyncio.client import connect

        host = self.hosts[i % len(self.hosts)]
        url = f"ws://{host}/ws/storyboards/{self.studio.storyboard}/{kind}"
        if kind == "live":  # a browser: its session cookie, and the Origin every browser sends
            headers, origin = {"Cookie": f"sessionid={self.studio.session}"}, f"http://{host}"
        else:
            headers, origin = {"Authorization": f"Bearer {self.studio.token}"}, None
        try:
            # ping_interval=None: browsers send no pings; daphne pings, and websockets pongs.
            ws = await connect(url, additional_headers=headers, origin=origin,
                               ping_interval=None, max_size=None, open_timeout=60)  # fmt: skip
        except Exception as error:  # noqa: BLE001 (any failure to open is a result, not a crash)
            self.open_failures[kind].append(f"{type(error).__name__}: {error}")
            return
        sock = Socket(kind, ws, process=i % len(self.hosts))
        self.sockets.append(sock)
        read = self.read_live if kind == "live" else self.read_events
        self.readers.append(asyncio.create_task(read(sock)))

    async def read_live(self, sock: Socket) -> None:
        """HTML fragments: a marker has arrived when its body is in the text. No parsing."""
        from websockets.exceptions import ConnectionClosed

        now, seen, markers = time.time, sock.seen, self.markers
        try:
            async for message in sock.ws:
                arrived = now()
                if isinstance(message, bytes):
                    message = message.decode("utf-8", "replace")
                if message.startswith("{"):
                    sock.control += 1
                    continue
                sock.messages += 1
                if MARKER_PREFIX in message:
                    for marker in markers:
                        if marker.body not in seen and marker.body in message:
                            seen[marker.body] = arrived
        except ConnectionClosed as closed:
            sock.closed_early = str(closed)
        else:  # a clean close ends the loop too; ours cancels the reader first, so it was theirs
            sock.closed_early = f"closed by the server, code {sock.ws.close_code}"

    async def read_events(self, sock: Socket) -> None:
        """JSON events: only those naming comment.created are parsed; a list is a batch."""
        from websockets.exceptions import ConnectionClosed

        now, seen, committed = time.time, sock.seen, self.committed
        try:
            async for message in sock.ws:
                arrived = now()
                sock.messages += 1
                if isinstance(message, bytes):
                    message = message.decode("utf-8", "replace")
                if "comment.created" not in message:
                    continue
                events = json.loads(message)
                for event in events if isinstance(events, list) else (events,):
                    if event.get("type") == "comment.created":
                        seen.setdefault(event.get("comment"), arrived)
                        committed.setdefault(event.get("comment"), event.get("ts"))
        except ConnectionClosed as closed:
            sock.closed_early = str(closed)
        else:
            sock.closed_early = f"closed by the server, code {sock.ws.close_code}"

    async def close_sockets(self) -> None:
        """All at once: the mass disconnect of everyone closing their tab together."""
        for task in self.readers:  # a reader ending on our own close is no early close
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(s.ws.close() for s in self.sockets), return_exceptions=True)

    # --- markers ---

    async def post_marker(self, poster, tag: str) -> Marker:
        marker = Marker(f"{MARKER_PREFIX}{tag}-{secrets.token_hex(4)}", time.time())
        self.markers.append(marker)  # before the POST: the event may beat the 201 back
        try:
            reply = await poster.post(f"/panels/{self.marker_panel}/comments",
                                      json={"body": marker.body})  # fmt: skip
            if reply.status_code == 201:
                marker.comment = reply.json()["id"]
            else:
                marker.failed = True
        except Exception:  # noqa: BLE001 (a failed marker POST is counted, not fatal)
            marker.failed = True
        marker.post_s = time.time() - marker.sent
        return marker

    async def post_markers(self, poster, stop: asyncio.Event) -> None:
        """One marker every --marker-every s, each its own task: a slow POST delays no other."""
        n, next_at = 0, time.perf_counter()
        while not stop.is_set():
            self.marker_posts.append(asyncio.create_task(self.loaded_marker(poster, n)))
            n += 1
            next_at += self.args.marker_every
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.perf_counter()))
            except TimeoutError:
                pass

    async def loaded_marker(self, poster, n: int) -> None:
        marker = await self.post_marker(poster, str(n))
        self.loaded.append(marker)

    def arrivals(self, marker: Marker, sock: Socket) -> float | None:
        key = marker.body if sock.kind == "live" else marker.comment
        return sock.seen.get(key)

    async def wait_delivered(self, markers: list[Marker], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            done = [m for m in markers if not m.failed and m.comment is not None]
            if all(self.arrivals(m, s) is not None for m in done for s in self.sockets
                   if not s.closed_early):  # fmt: skip
                return
            await asyncio.sleep(0.1)

    def deliveries(self, markers: list[Marker], process: int | None = None) -> dict[str, dict]:
        """Per kind: expected, delivered, lost, latencies in ms (on one process, or all)."""
        # ms: from the commit (the event's ts) to arrival, the delivery latency; post_ms: from
        # the moment the marker's POST left, which also counts the API's own queue under load.
        out = {kind: {"expected": 0, "delivered": 0, "ms": [], "post_ms": []}
               for kind in ("live", "events")}  # fmt: skip
        for marker in markers:
            if marker.failed or marker.comment is None:
                continue
            for sock in self.sockets:
                if process is not None and sock.process != process:
                    continue
                row = out[sock.kind]
                row["expected"] += 1
                arrived = self.arrivals(marker, sock)
                if arrived is not None:
                    row["delivered"] += 1
                    row["post_ms"].append((arrived - marker.sent) * 1000)
                    ts = self.committed.get(marker.comment)
                    if ts is not None:
                        row["ms"].append((arrived - ts) * 1000)
        for row in out.values():
            row["lost"] = row["expected"] - row["delivered"]
        return out

    # --- API load ---

    async def api_client(self, i: int, stop: asyncio.Event) -> None:
        """Read, read, write, write on random panels, back to back, until stop."""
        import httpx

        host = self.hosts[i % len(self.hosts)]
        token = self.studio.load_tokens[i]
        rng = random.Random(i)
        board, panels = self.studio.storyboard, self.load_panels
        stats = self.api
        async with httpx.AsyncClient(base_url=f"http://{host}/api", timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as api:  # fmt: skip
            n = i  # clients start at different steps of the cycle: the mix is even at once
            while not stop.is_set():
                panel = rng.choice(panels)
                step = n % 4
                n += 1
                started = time.perf_counter()
                try:
                    if step == 0:
                        reply = await api.get(f"/storyboards/{board}")
                    elif step == 1:
                        reply = await api.get(f"/panels/{panel}/comments")
                    elif step == 2:
                        reply = await api.patch(f"/panels/{panel}",
                                                json={"notes": f"client {i}, edit {n}"})  # fmt: skip
                    else:
                        reply = await api.post(f"/panels/{panel}/comments",
                                               json={"body": f"client {i} says {n}"})  # fmt: skip
                    failed = reply.status_code >= 400
                    what = f"{reply.request.method} {reply.request.url.path}: {reply.status_code}"
                except httpx.HTTPError as error:
                    failed, what = True, f"{type(error).__name__}: {error}"
                stats.requests += 1
                stats.seconds.append(time.perf_counter() - started)
                if failed:
                    stats.errors += 1
                    stats.first_error = stats.first_error or what


# --- report ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(len(ordered) * q / 100)
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def report(args, run: Run, result, peak_rss_mb, log):
    server_cpu_s = result["server_cpu_s"]
    idle = run.deliveries(run.idle)
    loaded = run.deliveries(run.loaded)
    idle_ms = idle["live"]["ms"] + idle["events"]["ms"]
    print(f"\nidle ({len(run.idle)} markers, no load): p50 {fmt(percentile(idle_ms, 50), 1)} ms, "
          f"p99 {fmt(percentile(idle_ms, 99), 1)} ms, max {fmt(max(idle_ms, default=None), 1)} ms; "
          f"delivered {idle['live']['delivered'] + idle['events']['delivered']}/"
          f"{idle['live']['expected'] + idle['events']['expected']}")  # fmt: skip

    print(f"\nsockets (opened in {result['open_s']:.1f} s, {OPEN_BATCH} at a time; closed all at "
          f"once in {result['close_s']:.2f} s):")  # fmt: skip
    print(f"{'':<10}{'opened':>8}{'failed':>8}{'closed early':>14}{'messages':>10}{'control':>9}")
    for kind in ("live", "events"):
        socks = [s for s in run.sockets if s.kind == kind]
        print(f"{kind:<10}{len(socks):>8}{len(run.open_failures[kind]):>8}"
              f"{sum(1 for s in socks if s.closed_early):>14}{sum(s.messages for s in socks):>10}"
              f"{sum(s.control for s in socks) if kind == 'live' else '-':>9}")  # fmt: skip
        early = [s.closed_early for s in socks if s.closed_early]
        if early:
            print(f"          e.g. closed early: {early[0]}")

    api = run.api
    rps = api.requests / result["load_s"] if result["load_s"] else 0.0
    api_ms = [s * 1000 for s in api.seconds]
    print(f"\nAPI load: {args.clients} clients, {api.requests} requests in {result['load_s']:.1f} "
          f"s = {rps:.1f} req/s, {api.errors} errors; latency p50 {fmt(percentile(api_ms, 50))} "
          f"ms, p99 {fmt(percentile(api_ms, 99))} ms, max {fmt(max(api_ms, default=None))} ms")  # fmt: skip
    if api.first_error:
        print(f"  first API error: {api.first_error}")
    failed = sum(1 for m in run.loaded if m.failed or m.comment is None)
    post_ms = [m.post_s * 1000 for m in run.loaded if not m.failed]
    print(f"markers: {len(run.loaded)} posted under load, {failed} failed; POST p50 "
          f"{fmt(percentile(post_ms, 50))} ms, max {fmt(max(post_ms, default=None))} ms")  # fmt: skip

    everything = loaded["live"]["ms"] + loaded["events"]["ms"]
    from_post = loaded["live"]["post_ms"] + loaded["events"]["post_ms"]
    rows = [("live", loaded["live"]), ("events", loaded["events"])]
    total = {"expected": sum(r["expected"] for _, r in rows),
             "delivered": sum(r["delivered"] for _, r in rows),
             "lost": sum(r["lost"] for _, r in rows), "ms": everything, "post_ms": from_post}  # fmt: skip
    for key, what in (("ms", "from the commit (the event's ts) to arrival"),
                      ("post_ms", "from the marker's POST sent, API queue included")):  # fmt: skip
        print(f"\nmarker delivery under load, ms {what} (waited {result['drain_s']:.1f} s "
              "after the load for late ones):")  # fmt: skip
        print(f"{'':<10}{'delivered':>12}{'lost':>7}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
        for name, row in [*rows, ("all", total)]:
            ms = row[key]
            print(f"{name:<10}{row['delivered']:>6}/{row['expected']:<5}{row['lost']:>7}"
                  f"{fmt(percentile(ms, 50)):>8}{fmt(percentile(ms, 90)):>8}"
                  f"{fmt(percentile(ms, 99)):>8}{fmt(max(ms, default=None)):>8}")  # fmt: skip

    if args.web_processes > 1:  # markers are posted on process 0: do the others hear them?
        each = []
        for process in range(args.web_processes):
            got = run.deliveries(run.loaded, process)
            ms = got["live"]["ms"] + got["events"]["ms"]
            each.append(f"#{process} {len(ms)}/{got['live']['expected'] + got['events']['expected']}"
                        f" p99 {fmt(percentile(ms, 99))} ms")  # fmt: skip
        print(f"by web process (markers posted on #0): {'; '.join(each)}")
    if total["lost"]:  # which markers went missing where: one late marker or a steady leak?
        counts = []
        for n, marker in enumerate(run.loaded):
            if marker.comment is None:
                continue
            got = {kind: run.deliveries([marker])[kind] for kind in ("live", "events")}
            if got["live"]["lost"] or got["events"]["lost"]:
                counts.append(f"#{n} live {got['live']['delivered']}/{got['live']['expected']} "
                              f"events {got['events']['delivered']}/{got['events']['expected']}")  # fmt: skip
        print(f"markers with losses: {'; '.join(counts)}")

    print(f"\nserver: {log['tracebacks']} tracebacks in the daphne log(s)"
          f"{':' if log['tracebacks'] else ''}")  # fmt: skip
    for kind, n in log["kinds"].most_common():
        print(f"  {n:>5} {kind}")
    print(f"server: {log['killed']} socket consumers still pending at shutdown, "
          f"{CLOSE_GRACE_S} s after the mass close (killed by daphne)")  # fmt: skip
    print(f"server: peak RSS {peak_rss_mb:.0f} MB ({args.web_processes} process(es) together), "
          f"{server_cpu_s:.1f} CPU s during the load (this load generator: "
          f"{result['bench_cpu_s']:.1f} CPU s); load average {load_average()}")  # fmt: skip

    p50, p99 = percentile(everything, 50), percentile(everything, 99)
    summary = {
        "fanout_expected": total["expected"],
        "fanout_delivered": total["delivered"],
        "fanout_lost": total["lost"],
        "fanout_p50_ms": rounded(p50),
        "fanout_p90_ms": rounded(percentile(everything, 90)),
        "fanout_p99_ms": rounded(p99),
        "fanout_max_ms": rounded(max(everything, default=None)),
        "fanout_post_p50_ms": rounded(percentile(from_post, 50)),
        "fanout_post_p99_ms": rounded(percentile(from_post, 99)),
        "fanout_live_p99_ms": rounded(percentile(loaded["live"]["ms"], 99)),
        "fanout_events_p99_ms": rounded(percentile(loaded["events"]["ms"], 99)),
        "fanout_live_lost": loaded["live"]["lost"],
        "fanout_events_lost": loaded["events"]["lost"],
        "fanout_idle_p50_ms": rounded(percentile(idle_ms, 50)),
        "fanout_idle_p99_ms": rounded(percentile(idle_ms, 99)),
        "fanout_api_rps": round(rps, 1),
        "fanout_api_requests": api.requests,
        "fanout_api_errors": api.errors,
        "fanout_api_p99_ms": rounded(percentile(api_ms, 99)),
        "fanout_markers": len(run.loaded),
        "fanout_markers_failed": failed,
        "fanout_sockets_failed": sum(len(f) for f in run.open_failures.values()),
        "fanout_sockets_closed_early": sum(1 for s in run.sockets if s.closed_early),
        "fanout_tracebacks": log["tracebacks"],
        "fanout_max_connections_errors": log["max_connections"],
        "fanout_killed_at_shutdown": log["killed"],
        "fanout_peak_rss_mb": round(peak_rss_mb, 1),
        "fanout_server_cpu_s": round(server_cpu_s, 1),
        "fanout_pages": args.pages,
        "fanout_scripts": args.scripts,
        "fanout_clients": args.clients,
        "fanout_duration_s": args.duration,
        "fanout_web_processes": args.web_processes,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
