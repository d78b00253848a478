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
1, 8, 32 and 128 concurrent streams through HF ``generate`` (static batching). Results are
printed as a Markdown table and written as JSON to ``--out`` (default ``$OUT/gpu.json``
when the device tool sets ``$OUT``, else ``bench/gpu_results.json``).

Not measured here yet: the suite's own decoder with continuous batching (issue 17); it
imports the core, which the device machine cannot install. Add it when it is torch-only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
    else:
        batches, streams, repeats, new_tokens, prompt_len = [1, 8, 32], [1, 8, 32, 128], 3, 64, 128
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
    ]  # fmt: skip
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
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
        print(f"| {r['role']} | {r['model']} | {r['batch']} | {r['latency_ms']} | "
              f"{r['throughput']} {r['unit']} | {r['peak_mb'] or '-'} | {r['input']} |")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
