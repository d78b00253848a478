"""Live transcription: how soon text is final after a sentence ends, and how far partials lag.

Debian's five LibriVox clips, 1.5 s of silence after each, are fed to a
``LiveTranscription`` (whisper-tiny.en, background worker, as on the page) in 0.5 s
chunks at real time. Every 50 ms the text is read:

* **finalisation latency**: for each sentence, the time from where its speech stops
  (10 ms frames within 35 dB of the clip's loudest) to when the final text holds its
  words (all but two of the reference words so far). Baseline in the same run: one
  offline decode of the same sentence (the least any finalisation costs) plus the
  pause the VAD waits for (``speech.live_pause_seconds``).
* **partial lag**: every 0.5 s while someone speaks, the audio time minus the time
  the last word shown (final + partial) ended, from word timestamps of an offline
  transcription of the whole recording.

Run (heavy: take the shared lock)::

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.speech_live
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from apps.speech import Transcriber  # noqa: E402
from apps.speech.audio import to_mono_16k  # noqa: E402
from apps.speech.live import LiveTranscription  # noqa: E402
from apps.speech.metrics import normalize_transcript  # noqa: E402
from shared_models.types.speech import SAMPLE_RATE, TranscriptionRequest  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
GAP = 1.5
CHUNK = 0.5
POLL = 0.05


def _clips() -> list[tuple[str, np.ndarray]]:
    clips = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, clip_id = line.rpartition("(")
        samples, rate = sf.read(LIBRIVOX / f"{clip_id.strip(' )')}.wav", dtype="float32")
        clips.append(
            (text.replace("<s>", "").replace("</s>", "").strip(), to_mono_16k(samples, rate))
        )
    return clips


def _speech_stop(audio: np.ndarray) -> float:
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return (np.flatnonzero(db > db.max() - 35)[-1] + 1) * 0.01


def _words(text: str) -> int:
    return len(normalize_transcript(text).split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="whisper-tiny.en")
    args = parser.parse_args()
    tr = Transcriber(args.model)
    clips = _clips()
    gap = np.zeros(int(GAP * SAMPLE_RATE), np.float32)
    audio = np.concatenate([x for _, clip in clips for x in (clip, gap)])
    ends, offset, refs = [], 0.0, []
    for ref, clip in clips:
        ends.append(offset + _speech_stop(clip))
        offset += (clip.size + gap.size) / SAMPLE_RATE
        refs.append(_words(ref))
    cumulative = np.cumsum(refs)

    # Baselines: word times from one offline pass (warms the model too), and one decode per clip.
    offline = tr.transcribe((audio, SAMPLE_RATE), language="en", word_timestamps=True)
    word_ends = [w.end for s in offline.segments for w in s.words]
    decode_s = []
    for _, clip in clips:
        start = time.perf_counter()
        tr.handle.call([TranscriptionRequest(clip, language="en")])
        decode_s.append(time.perf_counter() - start)

    live = LiveTranscription(tr, background=True)
    step = int(CHUNK * SAMPLE_RATE)
    finalised: list[float | None] = [None] * len(clips)
    lags: list[float] = []
    spans = _spans(ends, clips)
    t0 = time.perf_counter()
    for n, start in enumerate(range(0, audio.size + 4 * step, step)):
        chunk = audio[start : start + step]
        live.feed(chunk if chunk.size else np.zeros(step, np.float32), SAMPLE_RATE)
        fed = (start + step) / SAMPLE_RATE
        final, partial = live.text
        shown = _words(final) + _words(partial)
        if any(begin <= fed <= end for begin, end in spans):  # someone is speaking
            last = word_ends[min(shown, len(word_ends)) - 1] if shown else 0.0
            lags.append(fed - last)
        # Read the text every POLL seconds until the next chunk is due (real time).
        while (now := time.perf_counter() - t0) < (n + 1) * CHUNK:
            done = _words(live.text.final)
            for k, need in enumerate(cumulative):
                if finalised[k] is None and done >= need - 2:
                    finalised[k] = now - ends[k]
            time.sleep(POLL)
    live.finish()
    pause = live.pause_seconds
    latency = [f for f in finalised if f is not None]
    print(
        f"model {args.model}, {audio.size / SAMPLE_RATE:.1f} s fed at real time in {CHUNK} s chunks"
    )
    print(f"finalised {len(latency)}/{len(clips)} sentences while feeding")
    print(
        f"latency end of speech -> final text: median {statistics.median(latency):.2f} s, "
        f"max {max(latency):.2f} s; each: {[round(float(x), 2) for x in latency]}"
    )
    base = pause + statistics.median(decode_s)
    print(
        f"baseline (pause {pause:g} s + one offline decode, median {statistics.median(decode_s):.2f} s): "
        f"{base:.2f} s -> ratio {statistics.median(latency) / base:.2f}x"
    )
    print(
        f"partial lag while speaking: median {statistics.median(lags):.2f} s, "
        f"p90 {np.percentile(lags, 90):.2f} s over {len(lags)} samples; decodes {live.decodes}"
    )


def _spans(ends: list[float], clips: list) -> list[tuple[float, float]]:
    """(start, end) of each sentence's speech on the recording's clock."""
    spans, offset = [], 0.0
    for end, (_, clip) in zip(ends, clips, strict=True):
        spans.append((offset, end))
        offset += clip.size / SAMPLE_RATE + GAP
    return spans


if __name__ == "__main__":
    main()
