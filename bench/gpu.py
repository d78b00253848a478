"""GPU figures for every model role, in one script that fits a borrowed GPU machine.

The machine we can borrow is lent for minutes, reaches no package registry and takes at
most 64 MiB of files, so the bundled weight packages (Qwen 491 MB, Whisper 145 MB) cannot
travel. Speed does not depend on the weights' values, so this script builds the *real
architectures* from their configs (``bench/gpu_configs/``, copied from the converted
models) with random weights, and times them. It needs only torch, transformers and
torchvision, and the repository's own EfficientNet-Lite0 and darknet modules (torch only).

    python bench/gpu.py                       # CUDA, bf16, full sizes (about 5 minutes on an H200)
    python bench/gpu.py --device cpu --quick  # the CPU check CI-sized machines can run

Per role: latency and throughput at batch 1, 8 and 32, and peak GPU memory. Generation:
1, 8, 32 and 128 concurrent streams through HF ``generate`` (static batching), and serving
(below) at the same counts. Results are
printed as a Markdown table and written as JSON to ``--out`` (default ``$OUT/gpu.json``
when the device tool sets ``$OUT``, else ``bench/gpu_results.json``).

Serving (issue 17): the suite's own decoder, ``TextGenerator`` driven by its
``DecodeScheduler`` (continuous batching), against HF ``generate`` serving the same
requests in static batches, at the same stream counts: mixed prompt and output lengths,
staggered (Poisson) arrivals, greedy decoding. Reported: useful tokens/s, time to first
token p50/p95 and peak GPU memory per mode, and the ratios. The decoder modules need only
torch and transformers; they are imported without the core's package ``__init__`` (which
brings settings, pydantic and the manager), see ``suite_decoder``. The tokenizers must
travel (``--tokenizers``, default ``$SPRINGBOARD_CACHE_DIR`` or ``data/cache``): each
model's ``tokenizer.json`` and ``tokenizer_config.json`` (3.5 and 11 MB), because the
decoder detokenizes every step as it does when serving; without them serving is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "gpu_configs"
sys.path.insert(0, str(HERE.parent))  # the repository's torch-only model modules


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``fn`` over ``repeats`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def _config(name: str):
    from transformers import AutoConfig

    data = json.loads((CONFIGS / f"{name}.json").read_text())
    model_type = data.pop("model_type")
    data.pop("_model_name_or_path", None)
    return AutoConfig.for_model(model_type, **data)


# --------------------------------------------------------------------------- roles
def bench_encoder(name: str, device, dtype, batches, repeats, seq_len) -> list[dict]:
    """Sentence embeddings (BERT encoders): mean pooling over ``seq_len`` tokens."""
    from transformers import AutoModel

    config = _config(name)
    model = AutoModel.from_config(config).to(device=device, dtype=dtype).eval()
    rows = []
    for batch in batches:
        ids = torch.randint(1000, config.vocab_size - 1, (batch, seq_len), device=device)
        mask = torch.ones_like(ids)

        @torch.inference_mode()
        def run(model=model, ids=ids, mask=mask) -> None:
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            torch.nn.functional.normalize(hidden.mean(dim=1), dim=-1)

        _reset_peak(device)
        seconds = timed(run, device, repeats)
        rows.append(_row(name, "embedding", batch, seconds, batch / seconds, "sentences/s", device,
                         f"{seq_len} tokens"))  # fmt: skip
    return rows


def bench_classifier(device, dtype, batches, repeats, size) -> list[dict]:
    """EfficientNet-Lite0 (the bundled classifier's architecture), images of ``size``²."""
    from shared_models.efficientnet_lite import EfficientNetLite0

    model = EfficientNetLite0().to(device=device, dtype=dtype).eval()
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
        _reset_peak(device)
        seconds = timed(torch.inference_mode()(lambda x=x: model(x)), device, repeats)
        rows.append(_row("efficientnet-lite0", "classification", batch, seconds, batch / seconds,
                         "images/s", device, f"{size}x{size}"))  # fmt: skip
    return rows


def bench_detector(device, dtype, batches, repeats) -> list[dict]:
    """YOLOv3-tiny (the bundled detector's cfg), 416² input."""
    from shared_models.darknet import Darknet, parse_cfg

    model = Darknet(parse_cfg((CONFIGS / "yolov3-tiny.cfg").read_text()))
    model = model.to(device=device, dtype=dtype).eval()
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, model.height, model.width, device=device, dtype=dtype)
        _reset_peak(device)
        seconds = timed(torch.inference_mode()(lambda x=x: model(x)), device, repeats)
        rows.append(_row("yolov3-tiny", "detection", batch, seconds, batch / seconds, "images/s",
                         device, f"{model.width}x{model.height}"))  # fmt: skip
    return rows


def bench_whisper(device, dtype, batches, repeats, new_tokens) -> list[dict]:
    """Whisper base: 30 s windows, encoder plus greedy decoding of ``new_tokens`` tokens."""
    from transformers import WhisperForConditionalGeneration

    config = _config("whisper-base")
    model = WhisperForConditionalGeneration(config).to(device=device, dtype=dtype).eval()
    rows = []
    for batch in batches:
        mel = torch.randn(batch, config.num_mel_bins, 3000, device=device, dtype=dtype)

        @torch.inference_mode()
        def run(model=model, mel=mel) -> None:
            model.generate(input_features=mel, max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False)  # fmt: skip

        _reset_peak(device)
        seconds = timed(run, device, repeats)
        # Real-time factor: audio seconds transcribed per wall second.
        rows.append(_row("whisper-base", "speech", batch, seconds, 30.0 * batch / seconds,
                         "audio s/s", device, f"30 s, {new_tokens} tokens"))  # fmt: skip
    return rows


def bench_generation(name, device, dtype, streams, repeats, prompt_len, new_tokens) -> list[dict]:
    """HF ``generate`` with every stream in one static batch: aggregate new tokens/s."""
    from transformers import AutoModelForCausalLM

    config = _config(name)
    model = AutoModelForCausalLM.from_config(config).to(device=device, dtype=dtype).eval()
    rows = []
    for n in streams:
        ids = torch.randint(1000, config.vocab_size - 1, (n, prompt_len), device=device)

        @torch.inference_mode()
        def run(model=model, ids=ids) -> None:
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                           max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                           do_sample=False, pad_token_id=0)  # fmt: skip

        _reset_peak(device)
        seconds = timed(run, device, repeats)
        rows.append(_row(name, "generation", n, seconds, n * new_tokens / seconds, "tokens/s",
                         device, f"prompt {prompt_len}, {new_tokens} new, HF generate"))  # fmt: skip
    return rows


# --------------------------------------------------------------------------- serving
def suite_decoder() -> types.SimpleNamespace:
    """The suite's decoder modules, imported with torch and transformers only.

    ``core/__init__`` and ``core.settings`` bring pydantic, psutil and the manager, which
    the GPU machine lacks; the decoder needs none of them (``core.errors``,
    ``core.streaming`` and ``core.registry`` are stdlib and torch). So the two packages are
    entered as bare namespaces over their folders, which imports each submodule's own code
    and nothing else. In a process that already imported the core, that core is used.
    """
    root = HERE.parent
    for package in ("core", "shared_models"):
        if package not in sys.modules:
            bare = types.ModuleType(package)
            bare.__path__ = [str(root / package)]
            sys.modules[package] = bare
    return types.SimpleNamespace(
        decoding=importlib.import_module("shared_models.text_generation_decoding"),
        scheduler=importlib.import_module("shared_models.text_generation_scheduler"),
        streaming=importlib.import_module("core.streaming"),
        types=importlib.import_module("shared_models.types.generation"),
    )


def serving_plan(
    n: int, prompt_len: int, new_tokens: int, seed: int = 7
) -> list[tuple[float, int, int]]:
    """(arrival in units of one request's duration, prompt tokens, new tokens) for n requests.

    Prompts of half, one and two ``prompt_len``, outputs of a quarter, half and all of
    ``new_tokens``; Poisson arrivals spread over about the time one full request takes
    alone, so about ``n`` overlap at the peak.
    """
    rng = random.Random(seed + n)
    at, plan = 0.0, []
    for _ in range(n):
        plan.append((at, rng.choice([prompt_len // 2, prompt_len, 2 * prompt_len]),
                     rng.choice([max(1, new_tokens // 4), max(1, new_tokens // 2), new_tokens])))  # fmt: skip
        at += rng.expovariate(n)
    return plan


def _prompts(tokenizer, plan, vocab: int, seed: int = 11) -> list[list[int]]:
    """Distinct random prompts of the planned lengths (distinct: the prefix cache finds nothing)."""
    rng = random.Random(seed)
    out = []
    for _, length, _ in plan:
        text = tokenizer.decode([rng.randrange(1000, vocab) for _ in range(length)])
        out.append(list(tokenizer(text, add_special_tokens=False)["input_ids"])[:length])
    return out


def _pcts(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94]


def _serve_suite(runner, dec, plan, prompts, tokenizer, unit_s: float) -> dict:
    """Each request from its own thread at its arrival, streamed through the runner."""

    class Timed(dec.streaming.StreamChannel):  # notes when the first text piece arrives
        first: float | None = None

        def emit(self, event: Any) -> None:
            if self.first is None:
                self.first = time.perf_counter()
            super().emit(event)

    ttft, tokens, errors = [], [], []
    lock = threading.Lock()
    # Texts made up front: the callers' threads must not share the fast tokenizer.
    texts = [tokenizer.decode(ids) for ids in prompts]
    start = time.perf_counter()

    def one(at: float, text: str, new: int) -> None:
        time.sleep(max(0.0, start + at * unit_s - time.perf_counter()))
        sent = time.perf_counter()
        request = dec.types.GenerationRequest(prompt=text, max_new_tokens=new, temperature=0.0)
        channel = Timed(request.request_id)
        [result] = runner.run_streams([request], [channel])
        with lock:
            if isinstance(result, BaseException):
                errors.append(result)
                return
            ttft.append((channel.first or time.perf_counter()) - sent)
            tokens.append(result.new_tokens)

    threads = [threading.Thread(target=one, args=(at, text, new))
               for (at, _, new), text in zip(plan, texts, strict=True)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(
            f"{len(errors)} of {len(plan)} requests failed: {errors[0]}"
        ) from errors[0]
    return {"wall": time.perf_counter() - start, "ttft": ttft, "tokens": sum(tokens)}


def _serve_hf(model, plan, prompts, device, pad_id: int, unit_s: float) -> dict:
    """HF ``generate`` as a static-batching server: every request that has arrived when the
    model is free goes into the next batch, which runs to its longest output."""
    from transformers import LogitsProcessor, LogitsProcessorList

    class FirstStep(LogitsProcessor):  # generate calls it once per step: the first is TTFT
        def __init__(self) -> None:
            self.at: float | None = None

        def __call__(self, input_ids, scores):
            if self.at is None:
                _sync(device)
                self.at = time.perf_counter()
            return scores

    ttft, tokens = [], 0
    pending = list(range(len(plan)))
    start = time.perf_counter()
    while pending:
        now = time.perf_counter() - start
        wait = plan[pending[0]][0] * unit_s - now
        if wait > 0:
            time.sleep(wait)
            now = time.perf_counter() - start
        batch = [i for i in pending if plan[i][0] * unit_s <= now]
        pending = [i for i in pending if i not in batch]
        width = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for b, i in enumerate(batch):
            ids[b, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[b, width - len(prompts[i]) :] = 1
        longest = max(plan[i][2] for i in batch)
        first = FirstStep()
        with torch.inference_mode():
            model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                           max_new_tokens=longest, min_new_tokens=longest, do_sample=False,
                           pad_token_id=pad_id, logits_processor=LogitsProcessorList([first]))  # fmt: skip
        _sync(device)
        for i in batch:
            ttft.append(first.at - (start + plan[i][0] * unit_s))
            tokens += plan[i][2]  # what the request asked for; the rest of the batch is waste
    return {"wall": time.perf_counter() - start, "ttft": ttft, "tokens": tokens}


def bench_serving(name, device, dtype, streams, prompt_len, new_tokens, tokenizers: Path,
                  limits: dict) -> list[dict]:  # fmt: skip
    """Continuous batching (the suite's decoder) against HF ``generate``, same arrivals."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tokenizers / name
    if not (folder / "tokenizer.json").is_file():
        print(
            f"# serving {name}: skipped, no tokenizer in {folder} (see --tokenizers)",
            file=sys.stderr,
        )
        return []
    dec = suite_decoder()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    config = _config(name)
    model = AutoModelForCausalLM.from_config(config).to(device=device, dtype=dtype).eval()
    runner = dec.decoding.TextGenerator(
        model, tokenizer, context_tokens=4 * prompt_len + new_tokens, max_new_tokens_limit=new_tokens,
        decode_limits=dec.scheduler.DecodeLimits(max_active=max(streams), max_waiting=max(streams), **limits),
    )  # fmt: skip
    # Random weights: zero the end-of-turn rows of the output matrix so no row ends early and
    # both servers generate exactly the lengths asked (their logit is 0, far below the top).
    with torch.no_grad():
        model.get_output_embeddings().weight[sorted(runner.eos_ids)] = 0
    pad_id = runner.pad_id
    vocab = min(len(tokenizer), config.vocab_size)
    # One full request alone, decoded by the suite, sets the arrival time scale.
    warm = _prompts(tokenizer, [(0.0, prompt_len, new_tokens)], vocab, seed=1)
    _serve_suite(runner, dec, [(0.0, prompt_len, new_tokens)], warm, tokenizer, 0.0)
    unit_s = _serve_suite(runner, dec, [(0.0, prompt_len, new_tokens)], warm, tokenizer, 0.0)[
        "wall"
    ]
    _serve_hf(model, [(0.0, prompt_len, new_tokens)], warm, device, pad_id, 0.0)
    rows = []
    for n in streams:
        plan = serving_plan(n, prompt_len, new_tokens)
        prompts = _prompts(tokenizer, plan, vocab)
        shape = (f"{n} requests, prompts {prompt_len // 2}-{2 * prompt_len}, {max(1, new_tokens // 4)}-"
                 f"{new_tokens} new, arrivals over {unit_s:.2f} s")  # fmt: skip
        for mode in ("HF generate, static batches", "suite, continuous batching"):
            _reset_peak(device)
            if mode.startswith("HF"):
                got = _serve_hf(model, plan, prompts, device, pad_id, unit_s)
            else:
                got = _serve_suite(runner, dec, plan, prompts, tokenizer, unit_s)
            p50, p95 = _pcts(got["ttft"])
            row = _row(name, "serving", n, got["wall"], got["tokens"] / got["wall"], "tokens/s", device,
                       shape)  # fmt: skip
            row.update(
                mode=mode, ttft_p50_ms=round(p50 * 1000, 1), ttft_p95_ms=round(p95 * 1000, 1)
            )
            row["tokens"] = got["tokens"]
            rows.append(row)
        hf, suite = rows[-2], rows[-1]
        suite["throughput_ratio"] = round(suite["throughput"] / hf["throughput"], 2)
        suite["ttft_p95_ratio"] = round(hf["ttft_p95_ms"] / max(suite["ttft_p95_ms"], 1e-3), 2)
    runner.close()
    return rows


def _row(model, role, batch, seconds, rate, unit, device, shape) -> dict:
    return {
        "role": role, "model": model, "batch": batch, "latency_ms": round(seconds * 1000, 2),
        "throughput": round(rate, 1), "unit": unit, "peak_mb": _peak_mb(device), "input": shape,
    }  # fmt: skip


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a check that it runs")
    parser.add_argument("--out", help="JSON results file")
    parser.add_argument("--only", help="comma-separated roles to run (default: all)")
    parser.add_argument("--tokenizers", help="folder of <model>/tokenizer.json for serving "
                        "(default: $SPRINGBOARD_CACHE_DIR, else data/cache)")  # fmt: skip
    args = parser.parse_args(argv)

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # generate's notes on lengths are noise here
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("No CUDA device here; use --device cpu (with --quick for a fast check).")
    # bf16 on the GPU, as served there; float32 on CPU (bf16 matmuls are slow on most CPUs).
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    if args.quick:
        batches, streams, repeats, new_tokens, prompt_len = [1, 2], [1, 2], 1, 4, 16
        serve_streams, serve_limits = [1, 4], {"kv_cache_bytes": 256 * 2**20, "prefill_chunk": 16}
    else:
        batches, streams, repeats, new_tokens, prompt_len = [1, 8, 32], [1, 8, 32, 128], 3, 64, 128
        serve_streams, serve_limits = streams, {"kv_cache_bytes": 16 * 2**30, "prefill_chunk": 256}
    # (--quick serves SmolLM2 only: Qwen runs the same decoder code, 20 times slower on a CPU.)
    tokenizers = Path(
        args.tokenizers or os.environ.get("SPRINGBOARD_CACHE_DIR") or HERE.parent / "data" / "cache"
    )
    only = set(args.only.split(",")) if args.only else None

    jobs: list[tuple[str, Callable[[], list[dict]]]] = [
        ("embedding", lambda: bench_encoder("minilm-l6", device, dtype, batches, repeats, 32)
         + bench_encoder("multilingual-e5-small", device, dtype, batches, repeats, 32)),
        ("classification", lambda: bench_classifier(device, dtype, batches, repeats, 224)),
        ("detection", lambda: bench_detector(device, dtype, batches, repeats)),
        ("speech", lambda: bench_whisper(device, dtype, batches, repeats, new_tokens)),
        ("generation", lambda: bench_generation("smollm2-135m", device, dtype, streams, repeats,
                                                 prompt_len, new_tokens * 2)
         + bench_generation("qwen2.5-coder-0.5b", device, dtype, streams, repeats, prompt_len,
                            new_tokens * 2)),
        ("serving", lambda: bench_serving("smollm2-135m", device, dtype, serve_streams, prompt_len,
                                          new_tokens * 2, tokenizers, serve_limits)
         + (bench_serving("qwen2.5-coder-0.5b", device, dtype, serve_streams, prompt_len,
                          new_tokens * 2, tokenizers, serve_limits) if not args.quick else [])),
    ]  # fmt: skip
    results = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "torch": torch.__version__,
        "quick": args.quick,
        "rows": [],
    }
    started = time.perf_counter()
    for role, job in jobs:
        if only and role not in only:
            continue
        t0 = time.perf_counter()
        rows = job()
        results["rows"] += rows
        print(f"# {role}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)

    out = Path(args.out) if args.out else (
        Path(os.environ["OUT"]) / "gpu.json" if os.environ.get("OUT") else HERE / "gpu_results.json"
    )  # fmt: skip
    out.write_text(json.dumps(results, indent=1))
    print(f"{results['device']}, {results['dtype']}, torch {results['torch']}, "
          f"{results['seconds']} s\n")  # fmt: skip
    print("| role | model | batch | latency ms | throughput | peak MB | input |")
    print("|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        if r["role"] != "serving":
            print(f"| {r['role']} | {r['model']} | {r['batch']} | {r['latency_ms']} | "
                  f"{r['throughput']} {r['unit']} | {r['peak_mb'] or '-'} | {r['input']} |")  # fmt: skip
    serving = [r for r in results["rows"] if r["role"] == "serving"]
    if serving:
        print(
            "\n| model | streams | server | tokens/s | TTFT p50 ms | TTFT p95 ms | peak MB | ratios |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in serving:
            ratios = (f"tokens/s {r['throughput_ratio']}x; TTFT p95 HF/suite {r['ttft_p95_ratio']}"
                      if "throughput_ratio" in r else "baseline")  # fmt: skip
            print(f"| {r['model']} | {r['batch']} | {r['mode']} | {r['throughput']} | {r['ttft_p50_ms']} | "
                  f"{r['ttft_p95_ms']} | {r['peak_mb'] or '-'} | {ratios} |")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
