"""Word timestamps of the speech role: accuracy at known pauses, and what they cost.

1. **Pause edges.** Each adjacent pair of Debian's LibriVox clips is joined by
   ``--gap`` seconds of silence; where speech really stops and starts again is
   measured from the audio (10 ms frames within 35 dB of the loudest). The error
   is the last word's end before the pause minus where speech stopped, and the
   first word's start after it minus where speech restarted. There is no
   reference word timing for these clips, so only these edges are scored.
2. **Cost.** The three first clips in one batch, with and without
   ``word_timestamps``, interleaved, median of ``--repeats``: the ratio is the
   price of the extra decoder pass and the alignment.

3. **Against faster-whisper** (``--reference faster-whisper``, run from the bench
   virtualenv): each clip alone, faster-whisper's ``word_timestamps=True`` (same
   bundled Whisper base weights, int8, greedy) against ours; words are paired by
   aligning the two transcripts (same normalised word), and the median absolute
   difference of their starts and of their ends is reported.

Run (heavy: take the shared lock)::

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.speech_word_timestamps
    PYTHONPATH=. flock /tmp/springboard-heavy.lock /work/venv-bench/bin/python \
        -m bench.speech_word_timestamps --reference faster-whisper
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from apps.speech.audio import to_mono_16k  # noqa: E402
from apps.speech.metrics import normalize_text  # noqa: E402
from core import get_manager  # noqa: E402
from shared_models.types.speech import SAMPLE_RATE, TranscriptionRequest  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
MODELS = ("whisper-tiny.en", "whisper-base")


def _clips() -> list[np.ndarray]:
    paths = sorted(LIBRIVOX.glob("*.wav"))
    return [to_mono_16k(*sf.read(p, dtype="float32")) for p in paths]


def _speech_edges(audio: np.ndarray) -> tuple[float, float]:
    """Seconds where speech starts and stops (10 ms frames within 35 dB of the loudest)."""
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - 35)
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def pause_errors(handle, clips: list[np.ndarray], gap: float) -> list[float]:
    """Signed errors (s) at both edges of the pause, for each adjacent pair of clips."""
    errors: list[float] = []
    for first, second in zip(clips, clips[1:], strict=False):
        stop = _speech_edges(first)[1]
        restart = (first.size + gap * SAMPLE_RATE) / SAMPLE_RATE + _speech_edges(second)[0]
        audio = np.concatenate([first, np.zeros(int(gap * SAMPLE_RATE), np.float32), second])
        result = handle.call([TranscriptionRequest(audio, language="en", word_timestamps=True)])[0]
        words = [w for s in result.segments for w in s.words]
        middle = (stop + restart) / 2
        before = [w for w in words if (w.start + w.end) / 2 < middle]
        after = words[len(before) :]
        errors += [before[-1].end - stop, after[0].start - restart]
    return errors


def cost_ratio(handle, clips: list[np.ndarray], repeats: int) -> tuple[float, float]:
    """Median seconds of one batch without and with word timestamps."""
    times: dict[bool, list[float]] = {False: [], True: []}
    handle.call([TranscriptionRequest(clips[0])])  # warm up
    for _ in range(repeats):
        for words in (False, True):
            batch = [TranscriptionRequest(c, language="en", word_timestamps=words) for c in clips]
            start = time.perf_counter()
            handle.call(batch)
            times[words].append(time.perf_counter() - start)
    return statistics.median(times[False]), statistics.median(times[True])


def faster_whisper_words(manager, clips: list[np.ndarray]) -> list[list[tuple[str, float, float]]]:
    """faster-whisper's timed words for each clip (bundled Whisper base, int8, greedy)."""
    from faster_whisper import WhisperModel

    from bench.speech import ct2_folder

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = ct2_folder(manager.settings.model_cache_dir, Path(tmp))
        fw = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )
        for clip in clips:
            segments, _ = fw.transcribe(
                clip, beam_size=1, language="en", word_timestamps=True, vad_filter=False
            )
            out.append([(w.word, w.start, w.end) for s in segments for w in s.words])
    return out


def reference_differences(
    handle, clips: list[np.ndarray], reference: list[list[tuple[str, float, float]]]
) -> tuple[list[float], list[float], int, int]:
    """Start and end differences (ours minus reference) of the words both transcripts share."""
    starts: list[float] = []
    ends: list[float] = []
    ours_total = ref_total = 0
    for clip, ref_words in zip(clips, reference, strict=True):
        result = handle.call([TranscriptionRequest(clip, language="en", word_timestamps=True)])[0]
        ours = [(w.word, w.start, w.end) for s in result.segments for w in s.words]
        a = [normalize_text(w) for w, _, _ in ours]
        b = [normalize_text(w) for w, _, _ in ref_words]
        ours_total, ref_total = ours_total + len(a), ref_total + len(b)
        for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
            for n in range(block.size):
                _, our_start, our_end = ours[block.a + n]
                _, ref_start, ref_end = ref_words[block.b + n]
                starts.append(our_start - ref_start)
                ends.append(our_end - ref_end)
    return starts, ends, ours_total, ref_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", choices=["pauses", "faster-whisper"], default="pauses")
    args = parser.parse_args()
    clips = _clips()
    manager = get_manager()
    if args.reference == "faster-whisper":
        reference = faster_whisper_words(manager, clips)
        for name in MODELS:
            starts, ends, ours, theirs = reference_differences(
                manager.handle(name), clips, reference
            )
            s, e = np.abs(starts), np.abs(ends)
            print(
                f"{name} vs faster-whisper (whisper-base) word_timestamps, {len(s)} paired words "
                f"(ours {ours}, theirs {theirs}): median |start diff| {np.median(s):.3f} s, "
                f"median |end diff| {np.median(e):.3f} s, p90 {np.percentile(s, 90):.3f} / "
                f"{np.percentile(e, 90):.3f} s, mean signed {np.mean(starts):+.3f} / "
                f"{np.mean(ends):+.3f} s"
            )
        return
    print(f"{len(clips)} LibriVox clips, pauses of {args.gap} s, {args.repeats} repeats")
    for name in MODELS:
        handle = manager.handle(name)
        errors = np.array(pause_errors(handle, clips, args.gap))
        plain, timed = cost_ratio(handle, clips[:3], args.repeats)
        print(
            f"{name}: pause edges ({len(errors)}): mean |error| {np.abs(errors).mean():.3f} s, "
            f"median {np.median(np.abs(errors)):.3f} s, max {np.abs(errors).max():.3f} s, "
            f"mean signed {errors.mean():+.3f} s (word ends: "
            f"{', '.join(f'{e:+.2f}' for e in errors[0::2])}; word starts: "
            f"{', '.join(f'{e:+.2f}' for e in errors[1::2])}) | 3-clip batch "
            f"{plain:.2f} s -> {timed:.2f} s with words ({timed / plain:.2f}x)"
        )


if __name__ == "__main__":
    main()
