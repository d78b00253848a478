"""LoRA fine-tuning benchmark: the worked example (shop listings -> strict JSON).

Everything goes through the app's API (``TextGenerator.fine_tune``) and the shared
core, as the page uses it. In one process, on one base model:

1. train an adapter on ``apps/textgen/examples/fine_tuning/train.jsonl`` (120
   examples): training time, steps, peak memory (process peak RSS on CPU, which
   includes the Python process and the base model);
2. held-out perplexity (30 examples, reply tokens only), base against adapter;
3. task success on the 30 held-out listings, greedy: strict JSON validity (the
   whole reply is one object with exactly the five keys) and field accuracy;
4. serving throughput: 8 concurrent requests over 2 adapters (4 + 4, one mixed
   batch) against the same 8 on the base alone, and 8 on one adapter, interleaved
   and repeated so machine noise hits all alike. The second adapter is a copy of the
   first under another name: the same cost as any other adapter of that rank.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.fine_tuning
    .venv/bin/python -m bench.fine_tuning --model qwen2.5-coder-0.5b --epochs 1 --checkpointing
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from apps.textgen import GenerationOptions, TextGenerator, load_training_data  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402

EXAMPLE = PROJECT_ROOT / "apps" / "textgen" / "examples" / "fine_tuning"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _throughput(gen: TextGenerator, prompts: list, adapters: list[str | None], new_tokens: int) -> tuple[float, float]:
    """(requests/s, new tokens/s) of one concurrent wave, greedy."""
    requests = []
    for prompt, adapter in zip(prompts, adapters, strict=True):
        options = GenerationOptions(new_tokens, 0.0, repetition_penalty=1.0, adapter=adapter)
        requests.append(gen.prepare(prompt, options)[0])
    started = time.perf_counter()
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(lambda r: gen.handle.call([r])[0], requests))
    seconds = time.perf_counter() - started
    return len(results) / seconds, sum(r.new_tokens for r in results) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=None, help="training time budget")
    parser.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    parser.add_argument("--repeats", type=int, default=3, help="throughput waves per configuration")
    parser.add_argument("--evaluate", type=int, default=30, help="held-out prompts scored")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(PROJECT_ROOT / "data" / "cache")
    manager = ModelManager(Settings(data_dir=data_dir, cache_dir=Path(cache)))
    gen = TextGenerator(args.model, manager=manager, data_dir=data_dir)
    heldout = load_training_data(EXAMPLE / "heldout.jsonl")
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    run = gen.start_fine_tune(
        EXAMPLE / "train.jsonl", heldout=heldout, name="catalogue-json",
        epochs=args.epochs, batch_size=args.batch_size, max_seconds=args.max_seconds,
        gradient_checkpointing=args.checkpointing,
    )  # fmt: skip
    result = run.follow(lambda f, m: print(f"  {f:5.0%} {m}", flush=True))
    train_seconds = time.perf_counter() - started
    rss_train = _peak_rss_mb()
    print(f"\n{args.model}: trained {result.steps} steps ({result.epochs} epochs, batch {args.batch_size}) "
          f"on {result.train_examples} examples / {result.train_tokens} reply tokens in {train_seconds:.0f} s "
          f"({train_seconds / max(result.steps, 1):.1f} s/step); peak RSS {rss_train:.0f} MB "
          f"(before training {rss_before:.0f} MB); {result.trainable_parameters:,} trainable parameters")  # fmt: skip
    print(f"held-out perplexity (reply tokens, {result.heldout_examples} examples): "
          f"base {result.heldout_perplexity_before:.3f} -> adapter {result.heldout_perplexity_after:.3f}")  # fmt: skip

    started = time.perf_counter()
    ev = gen.evaluate_adapter("catalogue-json", heldout, max_examples=args.evaluate)
    assert ev.json_before is not None and ev.json_after is not None
    print(f"task success on {ev.examples} held-out listings (greedy, {time.perf_counter() - started:.0f} s): "
          f"valid JSON {ev.json_before.valid:.0%} -> {ev.json_after.valid:.0%}; "
          f"field accuracy {ev.json_before.field_accuracy:.0%} -> {ev.json_after.field_accuracy:.0%}")  # fmt: skip
    for c in ev.comparisons[:1]:
        print(f"  e.g. {c.prompt!r}\n    base:    {c.base[:120]!r}\n    adapter: {c.adapter[:120]!r}")

    root = gen.adapters.root
    shutil.copytree(root / "catalogue-json", root / "catalogue-json-b")
    prompts = [chat[:-1] for chat in heldout.examples[:8]]
    configs = {
        "8 on the base": [None] * 8,
        "8 on one adapter": ["catalogue-json"] * 8,
        "8 over 2 adapters (4+4)": ["catalogue-json", "catalogue-json-b"] * 4,
    }
    _throughput(gen, prompts, configs["8 over 2 adapters (4+4)"], 8)  # warm: load both adapters
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in configs}
    for _ in range(args.repeats):
        for name, adapters in configs.items():
            rates[name].append(_throughput(gen, prompts, adapters, 48))
    base_tps = statistics.median(t for _, t in rates["8 on the base"])
    print("serving, 8 concurrent greedy requests, max 48 new tokens (median of "
          f"{args.repeats} interleaved waves):")  # fmt: skip
    for name, values in rates.items():
        rps = statistics.median(r for r, _ in values)
        tps = statistics.median(t for _, t in values)
        print(f"  {name:26s} {rps:5.2f} req/s  {tps:6.1f} tokens/s  ({tps / base_tps:.2f}x base tokens/s)")
    manager.close()
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
