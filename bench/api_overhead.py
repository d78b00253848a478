"""What the HTTP API costs: ``/v1`` on a running server against the Python API in this process.

Same machine, same run, same model (the tiny ``smollm2-135m`` and ``minilm-l6``), turns
interleaved so machine noise hits both alike:

1. per-request latency, p50 and p95: one short embedding, and one short greedy chat
   answer (8 tokens), through ``POST /v1/...`` (httpx, keep-alive) against
   ``handle.call`` in this process;
2. aggregate tokens/s of 8 concurrent streaming chat clients through ``/v1`` (SSE)
   against 8 concurrent ``handle.stream`` calls in this process.

The server is a real ``python -m apps`` subprocess with its own copy of the models; it
sits idle while this process measures, and the other way round.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.api_overhead
    .venv/bin/python -m bench.api_overhead --requests 100 --clients 8 --tokens 64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from core.manager import ModelManager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402
from shared_models.types.generation import (  # noqa: E402
    TINY_MODEL,
    GenerationRequest,
    GenerationResult,
)
from tests.support.server import start_server  # noqa: E402

EMBED_MODEL = "minilm-l6"
SENTENCE = "Where is my parcel? It was due on Tuesday."
CHAT = [{"role": "user", "content": "Name three fruits."}]
STORY_TOPICS = ["a lighthouse", "a lost cat", "a bakery", "a robot", "a storm", "a garden",
                "a train", "a market", "a violin", "a snowman", "a kite", "a river"]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def chat_body(messages: list[dict], tokens: int, stream: bool = False) -> dict:
    body = {"model": TINY_MODEL, "messages": messages, "max_tokens": tokens, "temperature": 0}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def chat_request(messages: list[dict], tokens: int) -> GenerationRequest:
    # The route's mapping of the same body: OpenAI has no top-k and no repetition penalty.
    return GenerationRequest(messages=messages, max_new_tokens=tokens, temperature=0, top_p=1.0,
                             top_k=0, repetition_penalty=1.0)  # fmt: skip


def latency(http: httpx.Client, manager: ModelManager, requests: int) -> dict:
    """p50/p95 ms per request, HTTP against in-process, for an embedding and a short chat."""
    embed = manager.handle(EMBED_MODEL)
    llm = manager.handle(TINY_MODEL)
    cases = {
        "embedding (1 sentence)": (
            lambda: http.post(
                "/v1/embeddings",
                json={"model": EMBED_MODEL, "input": SENTENCE, "encoding_format": "float"},
            ).raise_for_status(),
            lambda: embed.call([SENTENCE]),
        ),  # fmt: skip
        "chat (8 tokens, greedy)": (
            lambda: http.post("/v1/chat/completions", json=chat_body(CHAT, 8)).raise_for_status(),
            lambda: llm.call([chat_request(CHAT, 8)]),
        ),
    }
    out = {}
    for name, (over_http, direct) in cases.items():
        for fn in (over_http, direct):  # warm both paths (loads, caches, connections)
            for _ in range(3):
                fn()
        times: dict[str, list[float]] = {"http": [], "python": []}
        for _ in range(requests):
            for label, fn in (("http", over_http), ("python", direct)):
                start = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - start) * 1000)
        row = {}
        for label, values in times.items():
            row[f"{label}_p50_ms"] = round(statistics.median(values), 2)
            row[f"{label}_p95_ms"] = round(percentile(values, 0.95), 2)
        row["overhead_p50_ms"] = round(row["http_p50_ms"] - row["python_p50_ms"], 2)
        out[name] = row
    return out


def _stream_http(base: str, messages: list[dict], tokens: int, barrier: threading.Barrier) -> int:
    with httpx.Client(base_url=base, timeout=600) as http:
        barrier.wait()
        completion = 0
        with http.stream(
            "POST", "/v1/chat/completions", json=chat_body(messages, tokens, True)
        ) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    if chunk.get("usage"):
                        completion = chunk["usage"]["completion_tokens"]
        return completion


def _stream_python(
    manager: ModelManager, messages: list[dict], tokens: int, barrier: threading.Barrier
) -> int:
    handle = manager.handle(TINY_MODEL)
    barrier.wait()
    with handle.stream(chat_request(messages, tokens)) as events:
        for event in events:
            if isinstance(event, GenerationResult):
                return event.new_tokens
    return 0


def concurrent_streams(
    base: str, manager: ModelManager, clients: int, tokens: int, repeats: int
) -> dict:
    """Aggregate tokens/s of ``clients`` concurrent streams, over HTTP and in-process."""
    prompts = [[{"role": "user", "content": f"Write a short story about {STORY_TOPICS[i % len(STORY_TOPICS)]}."}]
               for i in range(clients)]  # fmt: skip
    runs: dict[str, list[tuple[int, float]]] = {"http": [], "python": []}

    def once(label: str) -> tuple[int, float]:
        barrier = threading.Barrier(clients + 1)
        with ThreadPoolExecutor(clients) as pool:
            if label == "http":
                futures = [pool.submit(_stream_http, base, p, tokens, barrier) for p in prompts]
            else:
                futures = [
                    pool.submit(_stream_python, manager, p, tokens, barrier) for p in prompts
                ]
            barrier.wait()
            start = time.perf_counter()
            total = sum(f.result() for f in futures)
            return total, time.perf_counter() - start

    once("http"), once("python")  # warm-up: prefix cache, threads, connections
    for _ in range(repeats):
        for label in ("http", "python"):
            runs[label].append(once(label))
    out = {}
    for label, values in runs.items():
        rates = [tokens_ / seconds for tokens_, seconds in values]
        out[f"{label}_tokens_per_s"] = round(statistics.median(rates), 1)
        out[f"{label}_tokens"] = values[-1][0]
    out["ratio_http_over_python"] = round(out["http_tokens_per_s"] / out["python_tokens_per_s"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=100, help="timed requests per path and case"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64, help="max tokens per streamed answer")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR", str(PROJECT_ROOT / "data" / "cache"))
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data:
        server = start_server(data, "--apps", "speech", "--warmup", f"{TINY_MODEL},{EMBED_MODEL}")
        try:
            manager = ModelManager(Settings(data_dir=data, cache_dir=cache))
            manager.warmup([TINY_MODEL, EMBED_MODEL])
            with httpx.Client(base_url=server.base, timeout=600) as http:
                result = {
                    "latency": latency(http, manager, args.requests),
                    f"{args.clients}_concurrent_streams": concurrent_streams(
                        server.base, manager, args.clients, args.tokens, args.repeats
                    ),
                    "args": vars(args),
                    "cpu_count": os.cpu_count(),
                    "load_average": os.getloadavg(),
                }
            manager.close()
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
