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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--skip-faster-whisper", action="store_true")
    args = parser.parse_args()
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
