"""Micro-batcher benchmark: embedding throughput, 32 concurrent callers vs one at a time.

Both runs send the same requests (one sentence per call) to the same model through
the same handle, in the same process, so the ratio is a fair comparison on any
machine. Run:

    .venv/bin/python -m bench.batching [--callers 32] [--requests 1024] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.manager import ModelManager  # noqa: E402
from core.settings import Settings  # noqa: E402

SENTENCES = [
    "Where is my parcel? It was due on Monday.",
    "How do I reset the password on my account?",
    "Can I return a jacket that I bought in the sale?",
    "My card payment was declined twice this morning.",
    "Do you ship to Norway, and how long does it take?",
    "I was charged twice for the same order.",
    "What are your opening hours on public holidays?",
    "The app crashes when I try to upload a photo.",
]


def _texts(n: int) -> list[str]:
    return [f"{SENTENCES[i % len(SENTENCES)]} (ticket {i})" for i in range(n)]


def run(callers: int, requests: int, device: str, repeats: int) -> dict:
    settings = Settings(device=device)
    manager = ModelManager(settings)
    handle = manager.handle("embedding")
    texts = _texts(requests)
    handle.call(texts[:64])  # load and warm up outside the timed runs

    def sequential() -> float:
        start = time.perf_counter()
        for t in texts:
            handle.call([t])
        return requests / (time.perf_counter() - start)

    def concurrent() -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(callers) as pool:
            list(pool.map(lambda t: handle.call([t]), texts))
        return requests / (time.perf_counter() - start)

    seq, conc = [], []
    for _ in range(repeats):  # interleave so machine noise hits both alike
        seq.append(sequential())
        conc.append(concurrent())
    metrics = next(m for m in manager.report()["metrics"] if m["model"] == handle.name)
    return {
        "device": manager.policy.describe(),
        "sequential_per_s": statistics.median(seq),
        "concurrent_per_s": statistics.median(conc),
        "ratio": statistics.median(conc) / statistics.median(seq),
        "mean_batch": metrics["mean_batch"],
        "max_batch": metrics["max_batch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    r = run(args.callers, args.requests, args.device, args.repeats)
    print(f"machine: {platform.node()} {os.cpu_count()} cores; {r['device']}")
    print(
        f"embedding, {args.requests} one-sentence requests, median of {args.repeats}:\n"
        f"  one at a time:            {r['sequential_per_s']:8.1f} sentences/s\n"
        f"  {args.callers} concurrent callers:    {r['concurrent_per_s']:8.1f} sentences/s\n"
        f"  ratio:                    {r['ratio']:8.2f}x  "
        f"(batches: mean {r['mean_batch']}, max {r['max_batch']})"
    )


if __name__ == "__main__":
    main()
