"""Long recordings: WER of our stitched transcript against faster-whisper's, same file, same run.

The recording is built from real speech: ``--readings`` passes over Debian's five
LibriVox clips, each pass in its own (seeded) order, joined by pauses drawn from
``PAUSES``: none at all (the clips' own edges only, so some window cuts find no
pause and the windows overlap), short ones, and silences of 2-3 s (where Whisper
likes to stop early). Six readings give about 3 minutes.

Systems, on the same audio, interleaved, median time of ``--repeats``:

* ``Transcriber`` (whisper-base), windows cut at pauses (the app's default);
* ``Transcriber`` (whisper-base), fixed 30 s windows with 5 s overlaps
  (``cut_at_pauses=False``: every join is spliced by aligning words);
* faster-whisper int8 on the *same* bundled Whisper base weights, greedy
  (``beam_size=1``), its own sequential long-form decoding (OpenAI's: seek to the
  last complete segment), conditioned on the previous text (its default) and not.
  The recording repeats its five sentences, and conditioned on text it has just
  written Whisper tends to skip a sentence it hears again; so both are reported.

Every system's differences from the reference are printed (words lost, added,
changed, with their context), so a stitching error is visible, not just counted.

``--part batching``: the windows of one 2-3-window file batched against one
window per model call, and four files in one call against one by one, with the
batch sizes the core's metrics saw (ratios of the same run).

Run (heavy: take the shared lock; faster-whisper lives in the bench virtualenv)::

    PYTHONPATH=. flock /tmp/springboard-heavy.lock /work/venv-bench/bin/python -m bench.speech_long
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from apps.speech import Transcriber  # noqa: E402
from apps.speech.audio import to_mono_16k  # noqa: E402
from apps.speech.metrics import normalize_transcript, word_error_rate  # noqa: E402
from apps.speech.references import find_pairs  # noqa: E402
from apps.speech.windows import plan_windows  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import Settings  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
PAUSES = (0.0, 0.0, 0.2, 0.5, 1.0, 2.0, 3.0)  # seconds of silence between two clips
RATE = 16_000


def long_recording(readings: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """``readings`` shuffled passes over the LibriVox clips, joined by varied pauses."""
    rng = np.random.default_rng(seed)
    clips = [(to_mono_16k(*sf.read(p, dtype="float32")), ref) for p, ref in find_pairs(LIBRIVOX)]
    parts, refs = [], []
    for _ in range(readings):
        for k in rng.permutation(len(clips)):
            samples, ref = clips[k]
            if parts:
                parts.append(np.zeros(int(rng.choice(PAUSES) * RATE), np.float32))
            parts.append(samples)
            refs.append(ref)
    return np.concatenate(parts), " ".join(refs)


def word_diff(reference: str, hypothesis: str, context: int = 3) -> list[str]:
    """The edits of a minimal word alignment, each with a few words of context."""
    ref = normalize_transcript(reference).split()
    hyp = normalize_transcript(hypothesis).split()
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(
                cost[i - 1, j] + 1,
                cost[i, j - 1] + 1,
                cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]),
            )
    edits: list[tuple[int, str, str]] = []  # (reference position, said, heard)
    i, j = n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] != hyp[j - 1]:
                edits.append((i - 1, ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            edits.append((i - 1, ref[i - 1], "-"))
            i -= 1
        else:
            edits.append((i, "-", hyp[j - 1]))
            j -= 1
    lines = []
    for pos, said, heard in reversed(edits):
        before = " ".join(ref[max(0, pos - context) : pos])
        after = " ".join(ref[pos + (said != "-") : pos + (said != "-") + context])
        lines.append(f"word {pos}: ... {before} [{said} -> {heard}] {after} ...")
    return lines


def _batch_sizes(manager: ModelManager, model: str) -> dict[int, int]:
    metrics = next((m for m in manager.report()["metrics"] if m["model"] == model), None)
    return dict(metrics["batch_sizes"]) if metrics else {}


def _new_batches(before: dict[int, int], after: dict[int, int]) -> dict[int, int]:
    """The batch-size histogram of what ran between two snapshots."""
    sizes = {int(k): v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in sorted(sizes.items()) if v}


def batching(manager: ModelManager, model: str, repeats: int) -> None:
    """Windows of one file, and of four files, batched vs sent one at a time (same run).

    ``Transcriber(batch_size=1)`` sends each window in its own model call (one
    batch each); the default sends up to 8 windows per call, which the core's
    micro-batcher runs as one batch. The batch sizes come from the core metrics.
    """
    audio, _ = long_recording(1, seed=3)  # one reading, 2-3 windows
    files = [long_recording(1, seed=s)[0] for s in (4, 5, 6, 7)]
    batched = Transcriber(model, manager=manager)
    single = Transcriber(model, manager=manager, batch_size=1)
    batched.transcribe((audio[: 5 * RATE], RATE), language="en")  # load
    cases = {
        "one file, windows batched": lambda: batched.transcribe((audio, RATE), language="en"),
        "one file, one window per call": lambda: single.transcribe((audio, RATE), language="en"),
        "4 files in one call": lambda: batched.transcribe_batch(
            [(f, RATE) for f in files], language="en"
        ),
        "4 files one by one": lambda: [batched.transcribe((f, RATE), language="en") for f in files],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    sizes: dict[str, dict[int, int]] = {}
    for _ in range(repeats):
        for name, run in cases.items():
            before = _batch_sizes(manager, batched.model)
            start = time.perf_counter()
            out = run()
            times[name].append(time.perf_counter() - start)
            sizes[name] = _new_batches(before, _batch_sizes(manager, batched.model))
            n_windows = sum(t.windows for t in (out if isinstance(out, list) else [out]))
            sizes[name]["windows"] = n_windows
    print(f"\nbatching ({model}, median of {repeats}; batch sizes {{size: batches}} per call):")
    for name in cases:
        print(f"  {name}: {statistics.median(times[name]):.2f} s, batches {sizes[name]}")
    one = statistics.median(times["one file, one window per call"])
    one_b = statistics.median(times["one file, windows batched"])
    four = statistics.median(times["4 files one by one"])
    four_b = statistics.median(times["4 files in one call"])
    print(f"  speed-up, one file: {one / one_b:.2f}x; four files: {four / four_b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--skip-faster-whisper", action="store_true")
    parser.add_argument("--part", default="wer,batching", help="comma list of: wer,batching")
    args = parser.parse_args()
    parts = set(args.part.split(","))
    if "wer" in parts:
        long_file_wer(args)
    if "batching" in parts:
        manager = ModelManager(Settings())
        batching(manager, args.model, max(args.repeats, 2))
        manager.close()


def long_file_wer(args: argparse.Namespace) -> None:
    """WER of every system on the long recording, with the word differences."""
    audio, ref = long_recording(args.readings, args.seed)
    seconds = audio.size / RATE
    manager = ModelManager(Settings())
    systems = {
        "ours, cut at pauses": Transcriber(args.model, manager=manager),
        "ours, fixed overlapping windows": Transcriber(
            args.model, manager=manager, cut_at_pauses=False
        ),
    }
    for name, tr in systems.items():
        plan = plan_windows(audio, cut_at_pauses=tr.cut_at_pauses)
        joins = sum(1 for w in plan[1:] if w.overlap)
        print(f"{name}: {len(plan)} windows, {joins} joins by overlap")
    language = None if args.model.endswith(".en") else "en"
    fw = None
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_faster_whisper:
        from faster_whisper import WhisperModel

        from bench.speech import ct2_folder

        folder = ct2_folder(manager.settings.model_cache_dir, Path(tmp.name))
        fw = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )
    next(iter(systems.values())).transcribe((audio[: 5 * RATE], RATE), language=language)  # load
    times: dict[str, list[float]] = {}
    texts: dict[str, str] = {}
    for _ in range(args.repeats):
        for name, tr in systems.items():
            start = time.perf_counter()
            texts[name] = tr.transcribe((audio, RATE), language=language).text
            times.setdefault(name, []).append(time.perf_counter() - start)
        for condition in (True, False) if fw is not None else ():
            name = f"faster-whisper int8, condition_on_previous_text={condition}"
            start = time.perf_counter()
            segments, _ = fw.transcribe(
                audio, beam_size=1, language="en", vad_filter=False,
                condition_on_previous_text=condition,
            )  # fmt: skip
            texts[name] = " ".join(s.text.strip() for s in segments)
            times.setdefault(name, []).append(time.perf_counter() - start)
    tmp.cleanup()
    words = len(normalize_transcript(ref).split())
    print(f"\n{seconds:.1f} s of audio, {words} reference words, model {args.model}")
    for name, text in texts.items():
        wer = word_error_rate([ref], [text])
        rtf = statistics.median(times[name]) / seconds
        print(f"\n{name}: WER {100 * wer:.2f}% ({round(wer * words)} edits), RTF {rtf:.3f}")
        for line in word_diff(ref, text):
            print("   ", line)
    manager.close()


if __name__ == "__main__":
    main()
