"""What the studio costs on top of diffusers: the same model and images, measured two ways.

(a) raw: PipelineHost.load(), then render() of one Shot at a time in a plain loop in this
    process: diffusers' own speed. A "raw diffusers" row calls the host's pipeline directly,
    to show that the host adds nothing.
(b) studio: the same images as takes through the JSON API, one TakeWorker, daphne, and every
    finish seen on the storyboard's event socket, as a browser sees it.

The studio runs on a throwaway var dir and Redis database, never on the developer's data:

    make bench                                                  # small profile, 16 images, CPU
    make bench BENCH_ARGS="--rounds 3 --max-batch 1"            # overhead alone, no batching
    make bench BENCH_ARGS="--device cuda --profile sd-turbo-arch --n 32"

The last line printed is one JSON object (keys in docs/performance.md), for scripts and CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `generation` imports from this checkout

# One registry entry per profile. The studio reads it from SLATE_MODELS_FILE and the raw loop
# hands the same dict to PipelineHost: both sides run the very same model and settings.
PROFILES = {
    "small": {
        "key": "small",
        "min_n": 16,
        "entry": {
            "label": "Small SD (benchmark, random weights)",
            "kind": "stable-diffusion",
            "source": "builtin:small-sd",
            "tools": ["text2image"],
            "defaults": {"steps": 4, "guidance": 5.0, "width": 128, "height": 128},
            "limits": {"min_size": 32, "max_size": 1024, "max_steps": 50},
            "timeout_s": 600,
        },
    },
    "sd-turbo-arch": {
        "key": "sd-turbo-arch",
        "min_n": 1,
        "entry": {
            "label": "SD-Turbo architecture (benchmark, random weights)",
            "kind": "stable-diffusion",
            "source": "builtin:sd-turbo-arch",
            "tools": ["text2image"],
            "defaults": {"steps": 1, "guidance": 0.0, "width": 512, "height": 512},
            "limits": {"min_size": 64, "max_size": 1024, "max_steps": 50},
            "timeout_s": 600,
        },
    },
}
PROMPTS = [
    "a diner at night, rain on the windows",
    "close-up of a detective lighting a cigarette",
    "wide shot of an empty parking lot under sodium lights",
    "a train crossing a bridge at dawn",
]
REDIS_URL = "redis://127.0.0.1:6379/14"
QUEUE = "takes"
USERNAME, PASSWORD = "bench", "bench-secret-pw-1"
RSS_EVERY_S = 0.05
# Anything inherited that could point the studio at the developer's database, media or queues.
ISOLATION_UNSET = {
    "DATABASE_URL", "SLATE_DB_NAME", "MEDIA_ROOT", "SECRET_KEY", "SLATE_MEDIA_STORAGE",
    "SLATE_MODELS_FILE", "SLATE_VAR_DIR", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SLATE_QUEUE",
    "SLATE_CHANNEL_PREFIX", "SLATE_DEVICE", "SLATE_TORCH_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
}  # fmt: skip


def main() -> None:
    args = parse_args()
    profile = PROFILES[args.profile]
    key, entry = profile["key"], json.loads(json.dumps(profile["entry"]))
    entry["limits"]["max_batch"] = args.max_batch
    d = entry["defaults"]
    shots = shots_for(args.n)
    print(
        f"bench: profile {args.profile} ({d['width']}x{d['height']}, {d['steps']} steps, guidance "
        f"{d['guidance']}), n {args.n}, device {args.device}, max_batch {args.max_batch}, "
        f"threads {args.threads or 'torch default'}, rounds {args.rounds}, "
        f"{os.cpu_count()} CPUs, load {load_average()}",
        flush=True,
    )
    raws, raw_diffusers, studios = [], [], []
    with Studio(args, key, entry) as studio:
        studio.start()
        print(f"studio: warm-up take done {asyncio.run(studio.warm_up()):.1f} s after start "
              "(worker start, model load)", flush=True)  # fmt: skip
        raw = RawLoop(args, key, entry)
        print(f"raw: model warm, warm-up render done (torch threads {raw.threads})", flush=True)
        for round_ in range(1, args.rounds + 1):
            raws.append(raw.host_loop(shots))
            raw_diffusers.append(raw.diffusers_loop(shots))
            studios.append(asyncio.run(studio.measure(shots)))
            print(f"round {round_}: raw {raws[-1]:.2f} s, raw diffusers {raw_diffusers[-1]:.2f} s, "
                  f"studio {studios[-1]['studio']:.2f} s (load {load_average()})", flush=True)  # fmt: skip
        raw.close()
        peak_rss_mb = studio.stop_sampling() / 2**20
        takes = studio.takes_detail([i for s in studios for i in s["take_ids"]])
    report(args, raws, raw_diffusers, studios, takes, peak_rss_mb)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    parser.add_argument("--n", type=int, default=16, help="images per side and round (16)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--max-batch", type=int, default=4, help="the worker's batch limit (4)")
    parser.add_argument(
        "--threads", type=int, default=0,
        help="torch CPU threads on both sides (SLATE_TORCH_THREADS for the worker); 0: torch's default",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="raw then studio, this many times; the best round of each side counts (1)",
    )  # fmt: skip
    parser.add_argument("--redis-url", default=REDIS_URL, help="flushed first")
    parser.add_argument("--keep", action="store_true", help="keep the studio's temp dir and logs")
    args = parser.parse_args()
    if args.n < PROFILES[args.profile]["min_n"]:
        parser.error(f"--n must be at least {PROFILES[args.profile]['min_n']} for {args.profile}")
    if args.max_batch < 1 or args.rounds < 1 or args.threads < 0:
        parser.error("--max-batch and --rounds must be at least 1, --threads at least 0")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda, but torch sees no CUDA device on this machine")
    return args


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def model_dir() -> Path:
    """Built models are shared with the developer's checkout: each builtin is built once."""
    return Path(os.environ.get("SLATE_MODEL_DIR", ROOT / "var" / "models"))


# --- (a) raw ---------------------------------------------------------------------------------


class RawLoop:
    """The model warm in this process; renders one shot at a time, timed."""

    def __init__(self, args, key: str, entry: dict):
        import torch

        from generation.pipelines import PipelineHost

        if args.threads:
            torch.set_num_threads(args.threads)
        self.torch, self.args, self.key, self.d = torch, args, key, entry["defaults"]
        self.threads = torch.get_num_threads()
        self.host = PipelineHost(models={key: entry}, cache_dir=model_dir(), device=args.device)
        self.host.load(key)
        self.host.render(self.request("warm-up", 0))  # the same untimed warm-up the studio gets
        self.sync()

    def request(self, prompt: str, seed: int):
        from generation.pipelines import RenderRequest, Shot

        d = self.d
        return RenderRequest(
            model=self.key, tool="text2image", shots=[Shot(prompt=prompt, seed=seed)],
            width=d["width"], height=d["height"], steps=d["steps"], guidance=d["guidance"],
        )  # fmt: skip

    def sync(self) -> None:
        if self.args.device == "cuda":
            self.torch.cuda.synchronize()

    def host_loop(self, shots: list[tuple[str, int]]) -> float:
        started = time.perf_counter()
        for prompt, seed in shots:
            self.host.render(self.request(prompt, seed))
        self.sync()
        return time.perf_counter() - started

    def diffusers_loop(self, shots: list[tuple[str, int]]) -> float:
        """The host's own pipeline, called as text_to_image.py calls it, without the host."""
        torch, d = self.torch, self.d
        pipe = self.host._bases[self.key]
        started = time.perf_counter()
        with torch.inference_mode():
            for prompt, seed in shots:
                pipe(
                    prompt=[prompt], negative_prompt=[""], height=d["height"], width=d["width"],
                    num_inference_steps=d["steps"], guidance_scale=d["guidance"],
                    generator=[torch.Generator(pipe.device).manual_seed(seed)],
                )  # fmt: skip
        self.sync()
        return time.perf_counter() - started

    def close(self) -> None:
        del self.host
        if self.args.device == "cuda":
            self.torch.cuda.empty_cache()


# --- (b) studio ------------------------------------------------------------------------------


class Studio:
    """daphne and one TakeWorker on a temporary var dir and a Redis database of their own."""

    def __init__(self, args, key: str, entry: dict):
        self.args, self.key, self.entry = args, key, entry
        self.var_dir = Path(tempfile.mkdtemp(prefix="slate-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.sampler = None
        self.base = self.token = self.storyboard = None
        self.panels: list[int] = []

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_sampling()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if exc[0] is not None:
            print(self.logs(), file=sys.stderr)
        if self.args.keep or exc[0] is not None:
            print(f"studio files kept in {self.var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()

    # --- processes ---

    def env(self) -> dict:
        models_file = self.var_dir / "models.json"
        models_file.write_text(json.dumps({self.key: self.entry}, indent=2))
        env = {k: v for k, v in os.environ.items() if k not in ISOLATION_UNSET}
        env.update(
            DJANGO_SETTINGS_MODULE="studio.settings",
            SLATE_VAR_DIR=str(self.var_dir),
            SLATE_MODEL_DIR=str(model_dir()),
            SLATE_MODELS_FILE=str(models_file),
            REDIS_URL=self.args.redis_url,
            SLATE_QUEUE=QUEUE,
            SLATE_DEVICE=self.args.device,  # the worker's PipelineHost device
            PYTHONUNBUFFERED="1",
        )
        if self.args.threads:
            env["SLATE_TORCH_THREADS"] = str(self.args.threads)  # the worker's set_num_threads
        return env

    def start(self) -> None:
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()
        env = self.env()
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        create_user = (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})"
        )
        subprocess.run(
            [*manage, "shell", "-v", "0", "-c", create_user], cwd=ROOT, env=env, check=True
        )
        port = free_port()
        self.base = f"127.0.0.1:{port}"
        self._spawn("daphne", ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "studio.asgi:application"], env)  # fmt: skip
        worker = self._spawn("worker", ["manage.py", "rqworker", QUEUE, "--worker-class",
                                        "generation.worker.TakeWorker"], env)  # fmt: skip
        # Sampled from another process: a thread here would take this one's GIL from the raw
        # loop and from the socket reader whose receive times are the latency figures.
        context = multiprocessing.get_context("spawn")
        self.stop_event, self.peak = context.Event(), context.Value("q", 0)
        self.sampler = context.Process(
            target=sample_rss, args=(worker.pid, self.stop_event, self.peak), daemon=True
        )
        self.sampler.start()
        wait_for_port(port, self.procs)

    def _spawn(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def stop_sampling(self) -> int:
        """Stop the RSS sampler; the peak it saw, in bytes."""
        if self.sampler is not None and self.sampler.is_alive():
            self.stop_event.set()
            self.sampler.join(timeout=5)
        return self.peak.value if self.sampler is not None else 0

    def logs(self) -> str:
        return "\n".join(
            f"--- {Path(p.log_path).name} ---\n"
            + Path(p.log_path).read_text(errors="replace")[-4000:]
            for p in self.procs
        )

    # --- API ---

    def client(self):
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.AsyncClient(base_url=f"http://{self.base}/api", headers=headers, timeout=60)

    def socket(self):
        from websockets.asyncio.client import connect

        return connect(
            f"ws://{self.base}/ws/storyboards/{self.storyboard}/events",
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=None,
        )

    def take_body(self, seed: int) -> dict:
        d = self.entry["defaults"]
        return {"model": self.key, "seed": seed, "steps": d["steps"], "guidance": d["guidance"],
                "width": d["width"], "height": d["height"]}  # fmt: skip

    async def warm_up(self) -> float:
        """A project, a storyboard, a panel per shot, and one take run to the end.

        Polled over the API, so a worker that dies while starting fails the bench at once.
        """
        started = time.perf_counter()
        async with self.client() as api:
            reply = await api.post("/auth/token", json={"username": USERNAME, "password": PASSWORD})
            self.token = ok(reply)["token"]
        async with self.client() as api:
            project = ok(await api.post("/projects", json={"name": "Bench"}))
            board = ok(await api.post(f"/projects/{project['id']}/storyboards",
                                      json={"title": "Bench"}))  # fmt: skip
            self.storyboard = board["id"]
            for i, prompt in enumerate(p for p, _ in shots_for(self.args.n)):
                panel = ok(await api.post(f"/storyboards/{self.storyboard}/panels",
                                          json={"prompt": prompt}))  # fmt: skip
                self.panels.append(panel["id"])
                if i == 0:
                    warm = ok(await api.post(f"/panels/{panel['id']}/takes",
                                             json=self.take_body(0)))  # fmt: skip
            deadline = time.monotonic() + 600
            while warm["status"] not in ("succeeded", "failed", "cancelled"):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    raise RuntimeError(f"the warm-up take is still {warm['status']}")
                await asyncio.sleep(0.2)
                warm = ok(await api.get(f"/takes/{warm['id']}"))
            if warm["status"] != "succeeded":
                raise RuntimeError(f"the warm-up take {warm['status']}: {warm['error']}")
        return time.perf_counter() - started

    async def measure(self, shots: list[tuple[str, int]]) -> dict:
        """N takes through the API, timed from the first POST to the N-th take.succeeded."""
        latencies: list[float] = []
        take_ids: list[int] = []
        async with self.socket() as ws, self.client() as api:
            assert json.loads(await ws.recv())["type"] == "hello"
            waiter = asyncio.create_task(until_succeeded(ws, len(shots), latencies))
            started = time.perf_counter()
            for panel, (_prompt, seed) in zip(self.panels, shots, strict=True):
                reply = await api.post(f"/panels/{panel}/takes", json=self.take_body(seed))
                take_ids.append(ok(reply)["id"])
            submitted = time.perf_counter() - started
            finished = await waiter
        return {"studio": finished - started, "submit_s": submitted, "latencies": latencies,
                "take_ids": take_ids}  # fmt: skip

    def takes_detail(self, take_ids: list[int]) -> list[dict]:
        async def fetch():
            async with self.client() as api:
                return [ok(await api.get(f"/takes/{take_id}")) for take_id in take_ids]

        return asyncio.run(fetch())


def shots_for(n: int) -> list[tuple[str, int]]:
    """(prompt, seed) per image: the same list for the raw loop and the studio's panels."""
    return [(f"{PROMPTS[i % len(PROMPTS)]}, panel {i + 1}", 1000 + i) for i in range(n)]


async def until_succeeded(ws, n: int, latencies: list[float]) -> float:
    """Read events until n takes succeeded; the perf_counter time the last one arrived.

    Every take.progress adds `now - ts` to latencies: the worker's step callback to here.
    """
    from websockets.exceptions import ConnectionClosed

    done: set[int] = set()
    while len(done) < n:
        try:
            message = await asyncio.wait_for(ws.recv(), timeout=600)
        except TimeoutError:
            raise RuntimeError(f"no event for 600 s; {len(done)} of {n} takes done") from None
        except ConnectionClosed as closed:
            raise RuntimeError(f"the event socket closed ({closed}); {len(done)} of {n} takes "
                               "done; see daphne.log") from closed  # fmt: skip
        received = time.time()
        event = json.loads(message)
        if event["type"] == "take.progress":
            latencies.append(received - event["ts"])
        elif event["type"] in ("take.failed", "take.cancelled"):
            raise RuntimeError(f"take {event['take']} {event['type']}: {event.get('error', '')}")
        elif event["type"] == "take.succeeded":
            done.add(event["take"])
    return time.perf_counter()


def sample_rss(pid: int, stop, peak) -> None:
    """Peak resident memory of the worker and its children, every 50 ms, until stop is set."""
    import psutil

    try:
        worker = psutil.Process(pid)
        family, listed = [worker], 0.0
        while not stop.is_set():
            if time.monotonic() - listed > 1:  # listing children scans /proc: once a second
                family, listed = [worker, *worker.children(recursive=True)], time.monotonic()
            rss = 0
            for proc in family:
                try:
                    rss += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak.value = max(peak.value, rss)
            time.sleep(RSS_EVERY_S)
    except psutil.NoSuchProcess:
        return


def ok(reply) -> dict:
    if reply.status_code >= 400:
        request = reply.request
        raise RuntimeError(f"{request.method} {request.url}: {reply.status_code} {reply.text}")
    return reply.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a studio process exited while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("daphne did not start")


# --- report ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(len(ordered) * q / 100)
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def report(args, raws, raw_diffusers, studios, takes, peak_rss_mb) -> None:
    n = args.n
    raw_s = min(raws)
    best = min(studios, key=lambda s: s["studio"])
    studio_s = best["studio"]
    rows = [("raw", raw_s), ("raw diffusers", min(raw_diffusers)), ("studio", studio_s)]
    what = f"best of {args.rounds} rounds" if args.rounds > 1 else "one round"
    print(f"\n{n} images, {what}:")
    print(f"{'':<14}{'total s':>10}{'per image s':>14}{'images/s':>11}{'vs raw':>9}")
    for name, seconds in rows:
        print(f"{name:<14}{seconds:>10.2f}{seconds / n:>14.3f}{n / seconds:>11.2f}"
              f"{seconds / raw_s:>9.3f}")  # fmt: skip
    if args.rounds > 1:
        each = lambda values: ", ".join(f"{x:.2f}" for x in values)  # noqa: E731
        print(f"all rounds: raw {each(raws)} s; raw diffusers {each(raw_diffusers)} s; "
              f"studio {each(s['studio'] for s in studios)} s")  # fmt: skip

    ms = [x * 1000 for s in studios for x in s["latencies"]]
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    batch_sizes = Counter(t["timings"].get("batch_size") for t in takes)
    batches = {}  # a batch's takes share its claim time and its sampling time
    for t in takes:
        batches[t["started_at"]] = t["timings"]
    sampling = sum(b.get("sampling_s", 0.0) for b in batches.values()) / args.rounds
    save = sum(t["timings"].get("save_s", 0.0) for t in takes) / args.rounds
    submit = sum(s["submit_s"] for s in studios) / args.rounds
    outside = sum(s["studio"] for s in studios) / args.rounds - sampling
    print(f"\nstudio, per round: {n} POSTs took {submit:.2f} s; {len(batches) / args.rounds:.1f} "
          f"batches sampled for {sampling:.2f} s; PNG encoding {save:.2f} s; "
          f"outside sampling {outside:.2f} s ({outside / n * 1000:.0f} ms a take)")  # fmt: skip
    print(f"takes by batch size: {dict(sorted(batch_sizes.items()))}")
    if ms:
        print(f"event latency (take.progress: step callback -> socket client), {len(ms)} events: "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(ms):.1f} ms")  # fmt: skip
    else:
        print("event latency: no take.progress event arrived")
    print(f"peak worker RSS, children included: {peak_rss_mb:.0f} MB")
    print(f"load average at the end: {load_average()}")
    summary = {
        "raw_s": round(raw_s, 3),
        "studio_s": round(studio_s, 3),
        "overhead_ratio": round(studio_s / raw_s, 3),
        "event_latency_p50_ms": round(p50, 2) if ms else None,
        "event_latency_p99_ms": round(p99, 2) if ms else None,
        "peak_worker_rss_mb": round(peak_rss_mb, 1),
        "n": n,
        "profile": args.profile,
        "device": args.device,
        "batch_sizes": {str(size): count for size, count in sorted(batch_sizes.items())},
        "raw_diffusers_s": round(min(raw_diffusers), 3),
        "max_batch": args.max_batch,
        "threads": args.threads or None,
        "rounds": args.rounds,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
