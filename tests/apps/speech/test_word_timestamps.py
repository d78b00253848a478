"""Word timestamps through the speech app: long files, stitching, word-timed WebVTT."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from apps.speech.api import Transcriber, save_exports
from apps.speech.subtitles import to_vtt
from apps.speech.windows import Window, merge_windows
from core.errors import InvalidInputError
from shared_models.types.speech import SAMPLE_RATE, Segment, Word

SR = SAMPLE_RATE
CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$", re.M)
TAG = re.compile(r"<(\d\d):(\d\d):(\d\d)\.(\d{3})>")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _words(transcript) -> list[Word]:
    return [w for s in transcript.segments for w in s.words]


# ---------------------------------------------------------------------- on real speech
@pytest.mark.slow
def test_long_recording_words_are_absolute_ordered_and_spell_the_text(tiny, librivox):
    # The five clips twice, 0.5 s apart: 54 s, two windows (as test_transcriber's long test).
    gap = np.zeros(SR // 2, np.float32)
    clips = [clip for _, _, clip in librivox] * 2
    audio = np.concatenate([x for clip in clips for x in (clip, gap)])
    repeat_at = sum(clip.size + gap.size for clip in clips[:5]) / SR  # the second reading

    t = tiny.transcribe((audio, SR), word_timestamps=True)

    assert t.windows == 2
    words = _words(t)
    assert words and all(s.words for s in t.segments)
    for segment in t.segments:
        assert "".join(w.word for w in segment.words).strip() == segment.text
    assert all(0 <= w.start <= w.end <= t.duration for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))
    # The same word read twice is timed twice, one reading later, on the file's clock:
    # whichever window (and stitching) each reading came through.
    dashwood = [w.start for w in words if w.word.strip().startswith("Dashwood")]
    assert len(dashwood) == 2 and dashwood[1] > 27.1  # the second window starts at 27.1 s
    assert words[-1].end > 50
    assert dashwood[1] - dashwood[0] == pytest.approx(repeat_at, abs=0.3)
    plain = tiny.transcribe((audio, SR))
    assert plain.text == t.text and not _words(plain)


@pytest.mark.slow
def test_word_timed_subtitles_and_downloads(tiny, librivox, tmp_path):
    _, path, _ = librivox[0]  # 22 words: more than one line's worth
    t = tiny.transcribe(path, word_timestamps=True)

    vtt = Transcriber.to_vtt(t, words=True)

    assert vtt.startswith("WEBVTT\n")
    cues = CUE.findall(vtt)
    assert len(cues) >= 2  # short cues, not one per segment
    times = [(_seconds(*c[:4]), _seconds(*c[4:])) for c in cues]
    assert all(a <= b for a, b in times)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(times, times[1:], strict=False))
    lines = [line for line in vtt.splitlines()[1:] if line and "-->" not in line]
    assert " ".join(TAG.sub("", line) for line in lines).split() == t.text.split()
    assert any(TAG.search(line) for line in lines)  # later words carry their start
    names = sorted(p.name for p in save_exports([t], tmp_path))
    assert names[-1].endswith(".words.vtt") and len(names) == 4
    with pytest.raises(InvalidInputError, match="word_timestamps=True"):
        Transcriber.to_vtt(tiny.transcribe(path), words=True)


# ---------------------------------------------------------------------- no model
def _timed(start: float, words: list[tuple[str, float, float]]) -> Segment:
    text = "".join(w for w, _, _ in words).strip()
    return Segment(start, words[-1][2], text, [Word(w, s, e, 0.9) for w, s, e in words])


def test_stitching_keeps_model_word_times_on_the_recording_clock():
    windows = [Window(0, 30 * SR), Window(25 * SR, 45 * SR, 5 * SR)]
    first = [
        _timed(0.0, [(" one", 0.5, 1.0), (" two", 1.2, 1.6)]),
        _timed(26.0, [(" three", 26.1, 26.9), (" four", 27.4, 28.0), (" five", 28.5, 29.5)]),
    ]
    # The second window hears "four five" again (its own clock starts at 25 s).
    second = [_timed(2.3, [(" four", 2.4, 3.0), (" five", 3.5, 4.4), (" six.", 6.0, 6.8)])]

    merged = merge_windows(windows, [first, second])

    words = [w for s in merged for w in s.words]
    assert [w.word.strip() for w in words] == ["one", "two", "three", "four", "five", "six."]
    assert (words[0].start, words[0].end) == (0.5, 1.0)  # not interpolated over the segment
    assert (words[-1].start, words[-1].end) == (31.0, 31.8)  # second window: 25 s + its time
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))
    for segment in merged:
        assert "".join(w.word for w in segment.words).strip() == segment.text


def test_word_vtt_cues_break_at_sentences_and_pauses():
    segment = _timed(
        0.0,
        [(" Hello", 0.0, 0.4), (" there.", 0.5, 0.9), (" How", 1.0, 1.2), (" are", 1.3, 1.5),
         (" you", 1.6, 1.8), (" <today>?", 3.0, 3.5)],
    )  # fmt: skip
    vtt = to_vtt([segment], words=True)
    assert vtt == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:00.900\nHello <00:00:00.500>there.\n\n"
        "00:00:01.000 --> 00:00:01.800\nHow <00:00:01.300>are <00:00:01.600>you\n\n"
        "00:00:03.000 --> 00:00:03.500\n&lt;today&gt;?\n"
    )
    with pytest.raises(ValueError, match="word timestamps"):
        to_vtt([Segment(0.0, 1.0, "no words")], words=True)
    assert to_vtt([segment]).count("-->") == 1  # the segment-timed form is unchanged


def test_exports_without_words_have_no_word_vtt(tmp_path: Path):
    from apps.speech.api import Transcript

    t = Transcript("hi", "en", [Segment(0.0, 1.0, "hi")], 1.0, "clip.wav")
    assert sorted(p.name for p in save_exports([t], tmp_path)) == [
        "clip.srt",
        "clip.txt",
        "clip.vtt",
    ]
