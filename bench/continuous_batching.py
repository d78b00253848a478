"""Continuous against static batching, on the same model, the same arrivals, in one run.

Requests arrive at random moments (a fixed-seed Poisson process) with mixed lengths
(8 to 160 new tokens), as users of a chat page send them. Each is streamed through the
core's handle, as the pages and the APIs do. Two managers load the same model: one with
``decoding.continuous = false`` (a batch runs to its end before the next starts: the
baseline) and one with the default continuous batching. Their phases alternate, so
machine noise hits both alike.

Reported per mode: requests, time to first token (p50/p95), latency (p50/p95), generated
tokens per second over the run, and the ratios continuous/static. Greedy decoding, so
both modes generate the same tokens.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.continuous_batching
    .venv/bin/python -m bench.continuous_batching --model qwen2.5-coder-0.5b --requests 24
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import threading
import time
import uuid

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.manager import ModelManager  # noqa: E402
from core.settings import Decoding, Settings  # noqa: E402
from shared_models.types.generation import TINY_MODEL, GenerationRequest, GenerationResult  # noqa: E402

QUESTIONS = [
    "Write a short product description for a foldable electric bike.",
    "What should I pack for a weekend of hiking?",
    "Explain what a refund policy is, in two sentences.",
    "Suggest three names for a bakery.",
    "Tell me a story about a lighthouse keeper.",
    "How do I politely ask a customer for a review?",
    "List five ideas for a team lunch.",
    "Write a tweet announcing our new app.",
]


def arrivals(n: int, rate_per_s: float, seed: int) -> list[tuple[float, GenerationRequest]]:
    """(seconds after start, request) for n requests of mixed length, Poisson arrivals."""
    rng = random.Random(seed)
    at, out = 0.0, []
    for i in range(n):
        at += rng.expovariate(rate_per_s)
        request = GenerationRequest(
            messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
            max_new_tokens=rng.choice([8, 16, 32, 64, 96, 160]),
            temperature=0.0,
        )
        out.append((at, request))
    return out


def run_phase(manager: ModelManager, model: str, plan: list[tuple[float, GenerationRequest]]) -> dict:
    handle = manager.handle(model)
    ttft: list[float] = []
    latency: list[float] = []
    tokens = 0
    lock = threading.Lock()

    def one(delay: float, request: GenerationRequest, start: float) -> None:
        nonlocal tokens
        time.sleep(max(0.0, start + delay - time.perf_counter()))
        sent = time.perf_counter()
        request = dataclasses.replace(request, request_id=uuid.uuid4().hex)
        first = None
        result = None
        for event in handle.stream(request):
            if first is None:
                first = time.perf_counter() - sent
            if isinstance(event, GenerationResult):
                result = event
        with lock:
            ttft.append(first or 0.0)
            latency.append(time.perf_counter() - sent)
            tokens += result.new_tokens

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(d, r, start)) for d, r in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"ttft": ttft, "latency": latency, "tokens": tokens, "wall": wall}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=TINY_MODEL)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--rate", type=float, default=2.0, help="arrivals per second")
    parser.add_argument("--rounds", type=int, default=2, help="alternating phases per mode")
    args = parser.parse_args()

    managers = {
        "static": ModelManager(Settings(decoding=Decoding(continuous=False))),
        "continuous": ModelManager(Settings()),
    }
    for manager in managers.values():  # load and warm both before timing
        manager.handle(args.model).call([GenerationRequest(prompt="Hello", max_new_tokens=2)])
    plan = arrivals(args.requests, args.rate, seed=7)
    results: dict[str, list[dict]] = {mode: [] for mode in managers}
    for _ in range(args.rounds):
        for mode, manager in managers.items():
            results[mode].append(run_phase(manager, args.model, plan))

    summary = {}
    for mode, phases in results.items():
        ttft = [x for p in phases for x in p["ttft"]]
        latency = [x for p in phases for x in p["latency"]]
        tokens = sum(p["tokens"] for p in phases)
        wall = sum(p["wall"] for p in phases)
        summary[mode] = {
            "ttft_p50": pct(ttft, 50),
            "ttft_p95": pct(ttft, 95),
            "latency_p50": pct(latency, 50),
            "latency_p95": pct(latency, 95),
            "tokens_per_s": tokens / wall,
            "requests": len(latency),
        }
    print(f"model {args.model}, {args.requests} requests at {args.rate}/s, {args.rounds} rounds per mode")
    print(f"{'mode':<11} {'reqs':>5} {'TTFT p50':>9} {'TTFT p95':>9} {'lat p50':>8} {'lat p95':>8} {'tok/s':>7}")
    for mode, s in summary.items():
        print(
            f"{mode:<11} {s['requests']:>5} {s['ttft_p50']:>8.2f}s {s['ttft_p95']:>8.2f}s "
            f"{s['latency_p50']:>7.2f}s {s['latency_p95']:>7.2f}s {s['tokens_per_s']:>7.1f}"
        )
    c, st = summary["continuous"], summary["static"]
    print(
        f"continuous/static: TTFT p50 {c['ttft_p50'] / st['ttft_p50']:.2f}x, "
        f"latency p50 {c['latency_p50'] / st['latency_p50']:.2f}x, "
        f"p95 {c['latency_p95'] / st['latency_p95']:.2f}x, "
        f"throughput {c['tokens_per_s'] / st['tokens_per_s']:.2f}x"
    )
    for manager in managers.values():
        manager.close()


if __name__ == "__main__":
    main()
