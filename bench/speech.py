"""Speech app benchmark: accuracy, real-time factor against faster-whisper, concurrency.

All figures come from one run in one process on one machine:

1. normalised WER on Debian pocketsphinx-testdata's five LibriVox clips;
2. WER on 22 English espeak-ng sentences, and CER on 22 Mandarin sentences
   spoken by espeak-ng's ``cmn-latn-pinyin`` voice (language detected, and
   forced to ``zh``);
3. real-time factor of ``Transcriber`` (transformers with our greedy decoder;
   on CPU its decoder is int8 by default, its encoder bfloat16 for English-only models, see
   ``--quantize``) on a 54 s
   recording (the LibriVox clips twice, so it spans two windows), side by side
   with faster-whisper (CTranslate2 int8) loading the *same* bundled Whisper
   base weights, both greedy, interleaved, median of the repeats;
4. throughput with 8 concurrent callers against one at a time.

Run (heavy: take the shared lock)::

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.speech [--repeats 3]

Needs faster-whisper (``pip install faster-whisper``) for part 3; without it
that part is skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from apps.speech import Transcriber  # noqa: E402
from apps.speech.audio import to_mono_16k  # noqa: E402
from apps.speech.metrics import character_error_rate, word_error_rate  # noqa: E402
from apps.speech.references import find_pairs  # noqa: E402
from apps.speech.synth import ENGLISH, MANDARIN, speak  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import Settings  # noqa: E402
from shared_models.speech_recognition import WHISPER_BASE  # noqa: E402
from shared_models.types.speech import FAST_MODEL as FAST  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def librivox_long() -> tuple[np.ndarray, str]:
    """The five clips twice with 0.5 s gaps (54 s), and its reference."""
    pairs = find_pairs(LIBRIVOX)
    gap = np.zeros(8000, np.float32)
    parts, refs = [], []
    for path, ref in pairs * 2:
        samples, rate = sf.read(path, dtype="float32")
        parts += [to_mono_16k(samples, rate), gap]
        refs.append(ref)
    return np.concatenate(parts), " ".join(refs)


def accuracy(manager: ModelManager, folder: Path) -> dict:
    out: dict = {}
    pairs = find_pairs(LIBRIVOX)
    refs = [r for _, r in pairs]
    english = [speak(s, folder / f"en{i:02d}.wav") for i, s in enumerate(ENGLISH)]
    mandarin = [
        speak(p, folder / f"zh{i:02d}.wav", voice="cmn-latn-pinyin")
        for i, (_, p) in enumerate(MANDARIN)
    ]
    for model in ("whisper-base", FAST):
        tr = Transcriber(model, manager=manager)
        hyps = [t.text for t in tr.transcribe_batch([p for p, _ in pairs])]
        out[f"librivox_wer_{model}"] = word_error_rate(refs, hyps)
        out[f"librivox_wer_plain_normaliser_{model}"] = word_error_rate(
            refs, hyps, english_rules=False
        )
        en = [t.text for t in tr.transcribe_batch(english)]
        out[f"espeak_en_wer_{model}"] = word_error_rate(list(ENGLISH), en)
        out[f"espeak_en_errors_{model}"] = [
            (r, h) for r, h in zip(ENGLISH, en, strict=True) if word_error_rate([r], [h]) > 0
        ]
    tr = Transcriber("whisper-base", manager=manager)
    hanzi = [h for h, _ in MANDARIN]
    detected = tr.transcribe_batch(mandarin)
    forced = tr.transcribe_batch(mandarin, language="zh")
    out["mandarin_detected_languages"] = dict(Counter(t.language for t in detected))
    out["mandarin_cer_detected"] = character_error_rate(hanzi, [t.text for t in detected])
    out["mandarin_cer_forced_zh"] = character_error_rate(hanzi, [t.text for t in forced])
    out["mandarin_samples_forced_zh"] = [(r, t.text) for r, t in zip(hanzi, forced, strict=True)][:5]
    return out


def ct2_folder(cache_dir: Path, target: Path) -> Path:
    """The bundled Whisper base CTranslate2 folder, its two model parts joined."""
    source = WHISPER_BASE.source(cache_dir)
    with open(target / "model.bin", "wb") as fh:
        for part in source.model_parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 24)
    shutil.copy(source.config_json, target / "config.json")
    shutil.copy(source.tokenizer_json, target / "tokenizer.json")
    vocabulary = source.config_json.parent / "vocabulary.txt"
    if vocabulary.is_file():
        shutil.copy(vocabulary, target / "vocabulary.txt")
    return target


def real_time_factor(manager: ModelManager, repeats: int, threads: int) -> dict:
    audio, ref = librivox_long()
    seconds = audio.size / 16_000
    ours = Transcriber("whisper-base", manager=manager)
    tiny = Transcriber(FAST, manager=manager)
    ours.transcribe((audio, 16_000), language="en")  # load + warm up
    tiny.transcribe((audio[: 5 * 16_000], 16_000))
    out: dict = {"audio_seconds": seconds}
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        WhisperModel = None  # noqa: N806
        out["faster_whisper"] = "not installed: pip install faster-whisper"
    with tempfile.TemporaryDirectory() as tmp:
        fw = None
        if WhisperModel is not None:
            folder = ct2_folder(manager.settings.model_cache_dir, Path(tmp))
            fw = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
            list(fw.transcribe(audio[: 5 * 16_000], beam_size=1, language="en")[0])  # warm up
        times: dict[str, list[float]] = {"ours": [], "ours_tiny": [], "faster_whisper": []}
        texts: dict[str, str] = {}
        for _ in range(repeats):  # interleaved, so machine noise hits all alike
            start = time.perf_counter()
            texts["ours"] = ours.transcribe((audio, 16_000), language="en").text
            times["ours"].append(time.perf_counter() - start)
            start = time.perf_counter()
            texts["ours_tiny"] = tiny.transcribe((audio, 16_000)).text
            times["ours_tiny"].append(time.perf_counter() - start)
            if fw is not None:
                start = time.perf_counter()
                # Not conditioned on the previous text: conditioned (its default), faster-whisper 1.2.1
                # skips the second reading of this file (45% WER) and so does half the work.
                segments, _ = fw.transcribe(audio, beam_size=1, language="en", vad_filter=False,
                                            condition_on_previous_text=False)
                texts["faster_whisper"] = " ".join(s.text.strip() for s in segments)
                times["faster_whisper"].append(time.perf_counter() - start)
    for key, values in times.items():
        if values:
            out[f"rtf_{key}"] = statistics.median(values) / seconds
            out[f"wer_{key}"] = word_error_rate([ref], [texts[key]])
    if times["faster_whisper"]:
        out["rtf_ratio_ours_over_faster_whisper"] = out["rtf_ours"] / out["rtf_faster_whisper"]
    return out


def throughput(manager: ModelManager, folder: Path, callers: int, repeats: int) -> dict:
    tr = Transcriber("whisper-base", manager=manager)
    clips = []
    for i, sentence in enumerate(ENGLISH[:callers]):
        samples, rate = sf.read(speak(sentence, folder / f"tp{i}.wav"), dtype="float32")
        clips.append((to_mono_16k(samples, rate), 16_000))
    seconds = sum(c[0].size for c in clips) / 16_000
    tr.transcribe(clips[0], language="en")

    def one(clip):
        return tr.transcribe(clip, language="en")

    seq, conc = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for clip in clips:
            one(clip)
        seq.append(seconds / (time.perf_counter() - start))
        start = time.perf_counter()
        with ThreadPoolExecutor(callers) as pool:
            list(pool.map(one, clips))
        conc.append(seconds / (time.perf_counter() - start))
    metrics = next(m for m in manager.report()["metrics"] if m["model"] == tr.model)
    return {
        "clips": len(clips),
        "audio_seconds": seconds,
        "sequential_audio_s_per_s": statistics.median(seq),
        "concurrent_audio_s_per_s": statistics.median(conc),
        "ratio": statistics.median(conc) / statistics.median(seq),
        "mean_batch": metrics.get("mean_batch"),
        "max_batch": metrics.get("max_batch"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--skip", default="", help="comma list of: accuracy,rtf,throughput")
    parser.add_argument(
        "--quantize", default="auto", choices=["auto", "none", "int8"], help="settings.quantize"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    manager = ModelManager(Settings(device=args.device, quantize=args.quantize))
    threads = os.cpu_count() or 1
    report: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {threads} CPU threads",
        "device": manager.policy.describe(),
        "quantize": args.quantize,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if "accuracy" not in skip:
            report["accuracy"] = accuracy(manager, Path(tmp))
            print(json.dumps(report["accuracy"], indent=2, ensure_ascii=False), flush=True)
        if "rtf" not in skip:
            report["real_time_factor"] = real_time_factor(manager, args.repeats, threads)
            print(json.dumps(report["real_time_factor"], indent=2), flush=True)
        if "throughput" not in skip:
            report["throughput"] = throughput(manager, Path(tmp), args.callers, args.repeats)
            print(json.dumps(report["throughput"], indent=2), flush=True)
    manager.close()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
