"""Load test: simulated users on all five apps at once, through the real HTTP API.

Starts the suite (``python -m apps``) in a child process with a fresh data directory,
measures each app's latency with one user (the baseline), then runs ``--users``
simulated users for ``--seconds``. Each user has its own ``gradio_client.Client``
(its own session), picks an app by the mix below, sends one real request, waits a
think time, and repeats. Recorded: requests served, errors, p50/p95/p99 latency per
app and as a ratio to the one-user baseline, the server's peak memory (RSS, sampled),
the web queue's depth, and how the model batch sizes grew (from ``/api/status``).

    .venv/bin/python -m bench.load                       # 50 users, 180 s
    .venv/bin/python -m bench.load --users 10 --seconds 30 --json out.json

Prints a markdown report (and JSON with ``--json``). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
import psutil  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from tests.support.server import start_server  # noqa: E402

QUESTIONS = [
    "My new card still hasn't arrived, what should I do?",
    "how do i freeze my card",
    "Is there a fee for paying in euros abroad?",
    "I forgot my PIN",
    "can I get a refund for a payment to a shop?",
    "What is the capital of France?",
    "this is ridiculous, my transfer has been pending for 3 days",
]
PROMPTS = [
    "Write a tagline for a bike repair shop.",
    "Name three benefits of a standing desk.",
    "Summarise: our app saves teams an hour a day by automating reports.",
]
MOVIES = ["50", "1", "100"]
# Share of requests per app: support and vision are the everyday traffic, generation the heavy tail.
MIX = {"customer_service": 0.30, "recommendation": 0.20, "vision": 0.20, "speech": 0.15, "textgen": 0.15}
TEXTGEN_TOKENS = 24


@dataclass
class Sample:
    app: str
    start: float
    seconds: float
    error: str | None = None


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    status: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def _requests(example_dir: Path) -> dict[str, Callable[[Client, random.Random], object]]:
    """One function per app: a real request a user of that page would send."""
    clip = str(example_dir / "speech" / "examples" / "invoice_delivery.wav")
    photos = [str(p) for p in sorted((example_dir / "vision" / "examples").glob("*.png"))
              if not p.name.startswith("fashion")]

    def support(c: Client, rnd: random.Random):
        return c.predict(rnd.choice(QUESTIONS), [], False, api_name="/customer_service_chat")

    def recommendation(c: Client, rnd: random.Random):
        return c.predict(rnd.choice(MOVIES), api_name="/home_recommendation")

    def vision(c: Client, rnd: random.Random):
        photo = handle_file(rnd.choice(photos))
        if rnd.random() < 0.5:
            return c.predict(photo, 5, "imagenet", api_name="/vision_classify")
        return c.predict(photo, 0.25, 0.45, api_name="/vision_detect")

    def speech(c: Client, rnd: random.Random):
        return c.predict(handle_file(clip), None, "whisper-base", "auto", "transcribe",
                         api_name="/speech_transcribe")

    def textgen(c: Client, rnd: random.Random):
        return c.predict(rnd.choice(PROMPTS), [], "You are a concise assistant.", "qwen2.5-coder-0.5b",
                         TEXTGEN_TOKENS, 0.7, 0.8, 20, 1.05, rnd.randrange(1000), "",
                         api_name="/textgen_chat")

    return {"customer_service": support, "recommendation": recommendation, "vision": vision,
            "speech": speech, "textgen": textgen}


def _timed(run: Run, app: str, fn: Callable[[], object]) -> None:
    start = time.perf_counter()
    error = None
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - every failure is a data point here
        error = f"{type(exc).__name__}: {str(exc)[:160]}"
    run.add(Sample(app, start, time.perf_counter() - start, error))


def _user(base: str, requests: dict, run: Run, stop_at: float, seed: int, think: tuple[float, float]) -> None:
    rnd = random.Random(seed)
    try:
        client = Client(base, verbose=False, download_files=False)
    except Exception as exc:  # noqa: BLE001
        run.add(Sample("connect", time.perf_counter(), 0.0, f"{type(exc).__name__}: {exc}"))
        return
    apps, weights = zip(*MIX.items(), strict=True)
    while time.perf_counter() < stop_at:
        app = rnd.choices(apps, weights)[0]
        _timed(run, app, lambda fn=requests[app]: fn(client, rnd))
        time.sleep(rnd.uniform(*think))


def _watch(base: str, pid: int, run: Run, stop: threading.Event, every: float = 2.0) -> None:
    """Sample the server's memory and /api/status until told to stop."""
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            report = httpx.get(base + "/api/status", timeout=10).json()
            run.status.append({"t": time.perf_counter(), "rss_mb": rss / 2**20,
                               "web_queue": report.get("web_queue", {}),
                               "metrics": {m["model"]: m for m in report["metrics"]},
                               "precision": {m["model"]: m.get("precision", "") for m in report.get("models", [])}})
        except (httpx.HTTPError, psutil.Error):
            pass
        stop.wait(every)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def baseline(base: str, requests: dict, repeats: int) -> dict[str, float]:
    """Median one-user latency per app, after a warm-up request that loads its models."""
    client = Client(base, verbose=False, download_files=False)
    rnd = random.Random(0)
    out = {}
    for app, fn in requests.items():
        fn(client, rnd)  # loads the models; not timed
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(client, rnd)
            times.append(time.perf_counter() - start)
        out[app] = statistics.median(times)
    return out


def batch_growth(status: list[dict], buckets: int) -> list[dict]:
    """Mean batch size per model in equal time slices of the run (from cumulative counters)."""
    if len(status) < 2:
        return []
    t0, t1 = status[0]["t"], status[-1]["t"]
    edges = [t0 + (t1 - t0) * i / buckets for i in range(buckets + 1)]
    rows = []
    for i in range(buckets):
        first = min(status, key=lambda s: abs(s["t"] - edges[i]))
        last = min(status, key=lambda s: abs(s["t"] - edges[i + 1]))
        row = {"from_s": round(first["t"] - t0), "to_s": round(last["t"] - t0)}
        for model, m in last["metrics"].items():
            before = first["metrics"].get(model, {"requests": 0, "batches": 0})
            batches = m["batches"] - before["batches"]
            row[model] = round((m["requests"] - before["requests"]) / batches, 2) if batches else None
        rows.append(row)
    return rows


def summarise(run: Run, base_latency: dict[str, float], seconds: float, users: int) -> dict:
    by_app: dict[str, list[Sample]] = defaultdict(list)
    for s in run.samples:
        by_app[s.app].append(s)
    apps = {}
    for app, samples in sorted(by_app.items()):
        ok = [s.seconds for s in samples if s.error is None]
        errors = [s.error for s in samples if s.error]
        apps[app] = {
            "requests": len(samples), "errors": len(errors),
            "p50_s": _pct(ok, 0.50), "p95_s": _pct(ok, 0.95), "p99_s": _pct(ok, 0.99),
            "one_user_s": base_latency.get(app),
            "p50_vs_one_user": (_pct(ok, 0.5) / base_latency[app]) if app in base_latency and ok else None,
            "first_errors": sorted(set(errors))[:3],
        }
    last = run.status[-1]["metrics"] if run.status else {}
    return {
        "users": users, "seconds": seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "served": sum(a["requests"] - a["errors"] for a in apps.values()),
        "errors": sum(a["errors"] for a in apps.values()),
        "apps": apps,
        "peak_rss_mb": max((s["rss_mb"] for s in run.status), default=None),
        "peak_web_queue": max((s["web_queue"].get("waiting", 0) for s in run.status), default=None),
        "batch_sizes": {model: {"max": m["max_batch"], "mean": m["mean_batch"], "histogram": m["batch_sizes"]}
                        for model, m in last.items()},
        "batch_growth": batch_growth(run.status, buckets=6),
        # What each loaded model computed in (bfloat16 on CPUs with AMX, float32 elsewhere).
        "precision": {model: p for model, p in (run.status[-1].get("precision", {}) if run.status else {}).items() if p},
    }


def markdown(result: dict) -> str:
    lines = [
        f"{result['users']} simulated users for {result['seconds']:.0f} s on {result['machine']}: "
        f"**{result['served']:,} requests served, {result['errors']} errors**; server peak memory "
        f"**{result['peak_rss_mb']:,.0f} MB** RSS; at most {result['peak_web_queue']} requests waiting in the web queue.",
        "",
        "| app | requests | errors | p50 s | p95 s | p99 s | one user, p50 s | p50 under load / one user |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for app, a in result["apps"].items():
        ratio = f"{a['p50_vs_one_user']:.1f}×" if a["p50_vs_one_user"] else "n/a"
        one = f"{a['one_user_s']:.2f}" if a["one_user_s"] else "n/a"
        lines.append(f"| {app} | {a['requests']} | {a['errors']} | {a['p50_s']:.2f} | {a['p95_s']:.2f} | "
                     f"{a['p99_s']:.2f} | {one} | {ratio} |")
    if result.get("precision"):
        lines += ["", "Precision: " + "; ".join(f"`{m}` {p}" for m, p in result["precision"].items())]
    lines += ["", "Batch sizes per model over the whole run (mean / max):", ""]
    lines += [f"- `{model}`: mean {b['mean']}, max {b['max']}; batches by size {b['histogram']}"
              for model, b in result["batch_sizes"].items()]
    growth = result["batch_growth"]
    if growth:
        models = [k for k in growth[-1] if k not in ("from_s", "to_s")]
        lines += ["", "How the mean batch size grew as users arrived (per time slice):", "",
                  "| seconds | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        for row in growth:
            cells = [("–" if row.get(m) is None else f"{row[m]:.2f}") for m in models]
            lines.append(f"| {row['from_s']}–{row['to_s']} | " + " | ".join(cells) + " |")
    errors = {app: a["first_errors"] for app, a in result["apps"].items() if a["first_errors"]}
    if errors:
        lines += ["", "Errors seen: " + json.dumps(errors)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds over which users arrive")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), help="pause between a user's requests")
    parser.add_argument("--baseline-repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="springboard-load-"))
    server = start_server(data_dir)
    run = Run()
    stop = threading.Event()
    try:
        requests = _requests(data_dir)
        base_latency = baseline(server.base, requests, args.baseline_repeats)
        watcher = threading.Thread(target=_watch, args=(server.base, server.proc.pid, run, stop), daemon=True)
        watcher.start()
        stop_at = time.perf_counter() + args.seconds
        users = []
        for i in range(args.users):
            t = threading.Thread(target=_user, args=(server.base, requests, run, stop_at, i, tuple(args.think)))
            t.start()
            users.append(t)
            time.sleep(args.ramp / max(1, args.users))
        for t in users:
            t.join()
        stop.set()
        watcher.join(timeout=15)
        alive = server.proc.poll() is None
    finally:
        stop.set()
        server.stop()
    result = summarise(run, base_latency, args.seconds, args.users)
    result["server_alive_at_end"] = alive
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
