"""Overhead of the REST API (/api/v1) against calling the same Python API function directly.

One process, one model manager, the same app objects (the pages' singletons), the same
inputs. For each call the three paths are taken in turn, in a rotating order, so machine
noise hits them alike:

- direct: the app's Python API (``support_bot().ask(...)``, ``movielens_recommender().recommend(...)``);
- in-process: the REST route through ``fastapi.testclient.TestClient`` (ASGI, no sockets);
- HTTP: the same app served by uvicorn on 127.0.0.1, called with ``httpx`` (keep-alive).

Run:

    .venv/bin/python -m bench.rest_overhead [--calls 200] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from apps.ui_kit import movielens_recommender, support_bot  # noqa: E402
from apps.web_api.rest import build_rest_router  # noqa: E402
from core.manager import ModelManager, set_manager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402

QUESTIONS = [
    "my card never showed up",
    "how much does it cost to send money to another country?",
    "I don't recognise a payment on my statement",
    "how do I freeze my card?",
    "can I change my PIN?",
]
USERS = ["196", "186", "22", "244", "166", "298", "115", "253"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: FastAPI) -> tuple[uvicorn.Server, str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _measure(paths: dict[str, Callable[[int], None]], calls: int) -> dict[str, list[float]]:
    """Seconds per call for each path; the order of the paths rotates every call."""
    names = list(paths)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(calls):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            start = time.perf_counter()
            paths[name](i)
            times[name].append(time.perf_counter() - start)
    return times


def run(calls: int, device: str) -> dict[str, dict[str, list[float]]]:
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(PROJECT_ROOT / "data" / "cache")
    data = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    manager = ModelManager(Settings(data_dir=data, cache_dir=Path(cache), device=device))
    set_manager(manager)  # the pages' singletons use the process's manager
    app = FastAPI()
    app.include_router(build_rest_router())
    bot, rec = support_bot(), movielens_recommender()
    local = TestClient(app)
    server, base = _serve(app)
    remote = httpx.Client(base_url=base, timeout=60)

    def ask_body(i: int) -> dict:
        return {"question": QUESTIONS[i % len(QUESTIONS)], "session_id": f"bench-{i % 50}"}

    def checked(response: httpx.Response) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    ask = {
        "direct": lambda i: bot.ask(**ask_body(i)),
        "in-process": lambda i: checked(
            local.post("/api/v1/customer-service/ask", json=ask_body(i))
        ),
        "HTTP": lambda i: checked(remote.post("/api/v1/customer-service/ask", json=ask_body(i))),
    }
    url = "/api/v1/recommendation/users/{}/recommendations?k=10"
    recommend = {
        "direct": lambda i: rec.recommend(USERS[i % len(USERS)], k=10),
        "in-process": lambda i: checked(local.get(url.format(USERS[i % len(USERS)]))),
        "HTTP": lambda i: checked(remote.get(url.format(USERS[i % len(USERS)]))),
    }
    try:
        for paths in (ask, recommend):  # warm up: models loaded, caches filled
            _measure(paths, 10)
        return {
            "customer service ask": _measure(ask, calls),
            "recommend (item-kNN, k=10)": _measure(recommend, calls),
        }
    finally:
        remote.close()
        local.close()
        server.should_exit = True
        set_manager(None)
        manager.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = parser.parse_args()
    results = run(args.calls, args.device)
    print(f"{platform.node()} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f} · "
          f"{args.calls} calls per path, rotating order")  # fmt: skip
    print("| call | path | p50 ms | p95 ms | p50 vs direct | p50 overhead ms |")
    print("|---|---|---|---|---|---|")
    for call, times in results.items():
        base50, _ = _percentiles(times["direct"])
        for path, samples in times.items():
            p50, p95 = _percentiles(samples)
            print(f"| {call} | {path} | {p50 * 1e3:.2f} | {p95 * 1e3:.2f} | "
                  f"{p50 / base50:.2f}× | {(p50 - base50) * 1e3:+.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
