"""What one request costs on this machine, read from the core's own cost ledger.

Runs the apps' Python APIs on the bundled models and reads what ``core.costs`` charged
to each app (compute seconds, tokens, audio seconds, images), then prices it:

1. one customer-service answer (the demo bank's FAQ, phrased by the default LLM);
2. one minute of transcript (60 s of LibriVox read speech, whisper-base);
3. one 1,000-token generation, with the tiny model and with the default model
   (raw continuation, sampled; if the model ends earlier the figure is scaled to
   1,000 new tokens and says so);
4. one image classification (EfficientNet-Lite0).

Each case runs once as a warm-up (model loads and first-call work are not charged to
requests anyway), then ``--repeats`` times; the median is reported. As a check of the
ledger, the CPU seconds it charged are compared with the process CPU time of the same
calls (``time.process_time``): the ratio says how much of the process's CPU the model
batches account for (the rest is app code: retrieval, audio decoding, prompt rendering).

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.cost [--repeats 3] [--quick]

Money is at ``--cpu-hour-price`` (default: the settings' example price).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from apps.customer_service import CustomerServiceBot  # noqa: E402
from apps.speech import Transcriber  # noqa: E402
from apps.speech.audio import to_mono_16k  # noqa: E402
from apps.textgen import TextGenerator  # noqa: E402
from apps.vision import ImageRecognizer  # noqa: E402
from apps.vision.examples import example_photos  # noqa: E402
from core.costs import Usage  # noqa: E402
from core.manager import ModelManager, set_manager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402
from shared_models.types.generation import DEFAULT_MODEL, TINY_MODEL  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
QUESTIONS = [
    "How do I freeze my card?",
    "I was charged twice for the same purchase",
    "How long does a transfer abroad take?",
]


def minute_of_speech() -> np.ndarray:
    """60 s of 16 kHz read speech: the LibriVox test clips, repeated, cut at 60 s."""
    clips = []
    for wav in sorted(LIBRIVOX.glob("*.wav")):
        samples, rate = sf.read(wav, dtype="float32")
        clips.append(to_mono_16k(samples, rate))
    if not clips:
        raise SystemExit(
            "needs Debian's pocketsphinx-testdata (apt-get install pocketsphinx-testdata)"
        )
    audio = np.concatenate(clips)
    while len(audio) < 60 * 16_000:
        audio = np.concatenate([audio, *clips])
    return audio[: 60 * 16_000]


class Meter:
    """Ledger usage of one app (all its models) and process CPU time, around calls."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def run(self, app: str, call: Callable[[], object]) -> tuple[Usage, float, float, object]:
        before = self.manager.costs.usage(app=app)
        cpu, wall = time.process_time(), time.perf_counter()
        out = call()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = self.manager.costs.usage(app=app)
        delta = Usage(**{k: getattr(after, k) - getattr(before, k) for k in vars(after)})
        return delta, cpu, wall, out


def case(meter: Meter, name: str, app: str, call: Callable[[], object], repeats: int) -> dict:
    meter.run(app, call)  # warm-up
    runs = [meter.run(app, call) for _ in range(repeats)]
    pick = sorted(runs, key=lambda r: r[0].cpu_seconds)[len(runs) // 2]  # the median run
    usage, process_cpu, wall, _ = pick
    return {
        "case": name,
        "app": app,
        "runs": repeats,
        "model_requests": usage.requests,
        "cpu_seconds": usage.cpu_seconds,
        "gpu_seconds": usage.gpu_seconds,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "audio_seconds": usage.audio_seconds,
        "images": usage.images,
        "process_cpu_seconds": process_cpu,
        "wall_seconds": wall,
        "all_cpu_runs": [round(r[0].cpu_seconds, 3) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short generations (a smoke run)")
    parser.add_argument("--cpu-hour-price", type=float, default=None)
    parser.add_argument("--gpu-hour-price", type=float, default=None)
    parser.add_argument("--out", default=None, help="JSON results (default: print only)")
    args = parser.parse_args()

    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(PROJECT_ROOT / "data" / "cache")
    data = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    settings = Settings(data_dir=data, cache_dir=Path(cache))
    cost = settings.cost.model_copy(
        update={
            k: v
            for k, v in {
                "cpu_hour_price": args.cpu_hour_price,
                "gpu_hour_price": args.gpu_hour_price,
            }.items()
            if v is not None
        }
    )
    settings = settings.model_copy(update={"cost": cost})
    manager = ModelManager(settings)
    set_manager(manager)
    meter = Meter(manager)
    tokens = 50 if args.quick else 1000
    results = []

    bot = CustomerServiceBot.demo(use_llm=True, manager=manager)
    questions = iter(QUESTIONS * (args.repeats + 1))
    results.append(
        case(meter, "one customer-service answer (LLM-phrased)", "apps.customer_service",
             lambda: bot.ask(next(questions)), args.repeats)
    )  # fmt: skip

    transcriber = Transcriber(manager=manager)
    audio = minute_of_speech()
    results.append(
        case(meter, "one transcript minute (whisper-base)", "apps.speech",
             lambda: transcriber.transcribe((audio, 16_000), language="en"), max(1, args.repeats // 2))
    )  # fmt: skip

    for model in (TINY_MODEL, DEFAULT_MODEL):
        generator = TextGenerator(model, manager=manager)
        seeds = iter(range(100))
        results.append(
            case(meter, f"one {tokens:,}-token generation ({model})", "apps.textgen",
                 lambda g=generator, s=seeds: g.generate(
                     "Chapter One\n\nThe ship left the harbour at dawn, and", max_new_tokens=tokens,
                     temperature=0.8, seed=next(s), raw=True),
                 1)
        )  # fmt: skip

    recognizer = ImageRecognizer(manager=manager, data_dir=data / "vision")
    photo = example_photos(data / "photos")["chelsea.png"]
    results.append(
        case(meter, "one image classification (efficientnet-lite0)", "apps.vision",
             lambda: recognizer.classify(str(photo)), max(5, args.repeats))
    )  # fmt: skip

    prices = manager.costs.prices
    per_hour_cpu, per_hour_gpu = prices.cpu_hour / 3600, prices.gpu_hour / 3600
    device = manager.policy.describe()
    print(
        f"\nDevice: {device}; torch {torch.__version__}; {platform.processor() or platform.machine()}"
    )
    print(
        f"Prices: {prices.cpu_hour} {prices.currency}/CPU core-hour, {prices.gpu_hour} {prices.currency}/GPU-hour\n"
    )
    print(
        "| case | model requests | CPU s | GPU s | units | cost | ledger CPU / process CPU | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        scale = 1.0
        units = []
        if r["tokens_out"]:
            units.append(f"{r['tokens_in']} in, {r['tokens_out']} out tokens")
            if r["case"].startswith(f"one {tokens:,}-token"):
                scale = tokens / r["tokens_out"]
        if r["audio_seconds"]:
            units.append(f"{r['audio_seconds']:.0f} s audio")
        if r["images"]:
            units.append(f"{r['images']} image")
        money = (
            r["cpu_seconds"] * per_hour_cpu
            if not r["gpu_seconds"]
            else r["gpu_seconds"] * per_hour_gpu
        ) * scale
        r["cost"], r["scaled_to_units"] = money, scale
        note = f" (×{scale:.2f}: scaled to {tokens:,} new tokens)" if scale != 1.0 else ""
        print(
            f"| {r['case']}{note} | {r['model_requests']} | {r['cpu_seconds'] * scale:.3f} | "
            f"{r['gpu_seconds'] * scale:.3f} | {'; '.join(units)} | {money:.3g} {prices.currency} | "
            f"{r['cpu_seconds'] / r['process_cpu_seconds']:.2f} | {r['wall_seconds']:.2f} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps({"device": device, "results": results}, indent=2))
    manager.close()


if __name__ == "__main__":
    main()
