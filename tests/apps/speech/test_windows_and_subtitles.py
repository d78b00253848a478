"""Cutting long audio, stitching segments at the joins, subtitles and metrics (no model)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from apps.speech.api import Transcriber, Transcript, join_text, safe_stem, save_exports
from apps.speech.metrics import (
    character_error_rate,
    edit_distance,
    normalize_transcript,
    word_error_rate,
)
from apps.speech.windows import (
    Window,
    merge_windows,
    plan_spans,
    plan_windows,
    resume_point,
    speech_frames,
)
from shared_models.types.speech import SAMPLE_RATE, Segment

SR = SAMPLE_RATE


def _bursts(seconds: list[tuple[float, float]], total: float) -> np.ndarray:
    """Noise bursts (stand-ins for speech) at the given times, silence elsewhere."""
    rng = np.random.default_rng(0)
    audio = np.zeros(int(total * SR), np.float32)
    for start, end in seconds:
        a, b = int(start * SR), int(end * SR)
        audio[a:b] = 0.2 * rng.standard_normal(b - a)
    return audio


def test_long_audio_is_cut_inside_pauses():
    # 4 s "sentences" with 0.8 s pauses, 70 s in all.
    bursts = [(t, t + 4.0) for t in np.arange(0.5, 66, 4.8)]
    audio = _bursts(bursts, 70.0)

    windows = plan_windows(audio)

    assert len(windows) == 3 and windows[0].start == 0 and windows[-1].end == audio.size
    for before, after in zip(windows, windows[1:], strict=False):
        assert after.start == before.end and after.overlap == 0  # contiguous, no overlap
        cut = before.end / SR
        assert not any(s < cut < e for s, e in bursts), cut  # never inside a burst
    assert all(w.end - w.start <= 30 * SR for w in windows)


def test_audio_without_pauses_gets_overlapping_windows():
    audio = _bursts([(0.0, 70.0)], 70.0)
    windows = plan_windows(audio)
    assert [w.start / SR for w in windows] == [0.0, 25.0, 50.0]
    assert all(w.end - w.start <= 30 * SR for w in windows) and windows[-1].end == audio.size
    assert [w.overlap / SR for w in windows] == [0.0, 5.0, 5.0]
    assert plan_windows(audio[: 20 * SR]) == [Window(0, 20 * SR)]


def test_windows_joined_without_a_pause_form_one_span():
    # Pauses cut spans; overlapping windows (no pause found) are one span, decoded by seeking.
    plan = [Window(0, 20 * SR), Window(20 * SR, 50 * SR), Window(45 * SR, 75 * SR, 5 * SR),
            Window(75 * SR, 90 * SR)]  # fmt: skip
    assert plan_spans(plan) == [(0, 20 * SR), (20 * SR, 75 * SR), (75 * SR, 90 * SR)]
    no_pauses = plan_windows(_bursts([(0.0, 70.0)], 70.0))
    assert plan_spans(no_pauses) == [(0, 70 * SR)]


def test_decoding_resumes_in_the_pause_nearest_the_timestamp():
    # A "word" runs to 10.3 s, then 1 s of silence, then more speech.
    audio = _bursts([(5.0, 10.3), (11.3, 15.0)], 16.0)
    frames = speech_frames(audio)
    early = resume_point(audio, frames, int(10.0 * SR))  # Whisper's end timestamp 0.3 s early
    late = resume_point(audio, frames, int(11.4 * SR))  # ... or on the next word's first sound
    assert 10.3 * SR < early < 11.3 * SR
    assert 10.3 * SR < late < 11.3 * SR
    # Inside continuous speech it stays close to the timestamp.
    inside = resume_point(audio, frames, int(7.0 * SR))
    assert abs(inside - 7.0 * SR) <= 0.3 * SR


def test_overlapping_windows_keep_each_word_once():
    windows = [Window(0, 30 * SR), Window(25 * SR, 55 * SR, 5 * SR)]
    first = [
        Segment(0.0, 12.0, "one two three four five six"),
        Segment(12.0, 24.0, "seven eight nine ten eleven twelve"),
        Segment(24.0, 30.0, "thirteen fourteen fifteen"),
    ]
    # The second window hears the overlap (25-30 s) again, slightly differently timed.
    second = [
        Segment(0.0, 5.2, "fourteen fifteen sixteen"),
        Segment(5.2, 20.0, "seventeen eighteen nineteen twenty"),
    ]

    merged = merge_windows(windows, [first, second])

    words = " ".join(s.text for s in merged).split()
    expected = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
    assert words == expected.split()
    assert all(a.end <= b.start + 1e-6 for a, b in zip(merged, merged[1:], strict=False))
    assert merged[-1].end == 45.0


def test_overlap_with_no_common_words_is_split_by_time():
    windows = [Window(0, 30 * SR), Window(25 * SR, 40 * SR, 5 * SR)]
    first = [Segment(0.0, 20.0, "alpha beta"), Segment(20.0, 30.0, "gamma delta")]
    second = [Segment(0.0, 5.0, "gramma dealt"), Segment(5.0, 15.0, "epsilon zeta")]
    text = " ".join(s.text for s in merge_windows(windows, [first, second]))
    # gamma (~22.5 s) is before the middle of the overlap (27.5 s), dealt (~26.3 s... 28.75) after.
    assert text.split()[:3] == ["alpha", "beta", "gamma"]
    assert text.split()[-2:] == ["epsilon", "zeta"]
    assert "delta" not in text or "dealt" not in text  # never both readings of one word


def test_pause_joins_concatenate_on_the_recording_clock():
    windows = [Window(0, 20 * SR), Window(20 * SR, 35 * SR)]
    merged = merge_windows(windows, [[Segment(1.0, 5.0, "hello there")], [Segment(0.5, 3.0, "bye")]])
    assert merged == [Segment(1.0, 5.0, "hello there"), Segment(20.5, 23.0, "bye")]


def test_cjk_text_joins_without_spaces():
    assert join_text(["今天天气很好。", "我们开会。", "OK then"]) == "今天天气很好。我们开会。 OK then"


# ------------------------------------------------------------------ subtitles
TRANSCRIPT = Transcript(
    "Hello there. A much longer second sentence that will certainly need more than one line on screen, and then some more words to make three lines.",
    "en",
    [
        Segment(0.0, 1.5, "Hello there."),
        Segment(3661.25, 3671.25, "A much longer second sentence that will certainly need more "
                "than one line on screen, and then some more words to make three lines."),  # fmt: skip
        Segment(3672.0, 3673.0, "Fish & <chips> --> now"),
    ],
)


def test_srt_format():
    srt = Transcriber.to_srt(TRANSCRIPT)
    blocks = srt.strip().split("\n\n")
    assert blocks[0] == "1\n00:00:00,000 --> 00:00:01,500\nHello there."
    time = r"\d\d:\d\d:\d\d,\d\d\d"
    for n, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(n)
        assert re.fullmatch(f"{time} --> {time}", lines[1])
        assert 1 <= len(lines[2:]) <= 2 and all(len(line) <= 42 for line in lines[2:])
    # The long segment is split into cues that share its time, in order.
    assert blocks[1].split("\n")[1].startswith("01:01:01,250 --> ")
    assert blocks[-2].split("\n")[1].endswith(" --> 01:01:11,250")
    assert len(blocks) == 4


def test_vtt_format_and_escaping():
    vtt = Transcriber.to_vtt(TRANSCRIPT)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n")
    assert "Fish &amp; &lt;chips&gt; --&gt; now" in vtt
    assert vtt.count(" --> ") == 4  # only the cue timing lines


def test_txt_and_saved_exports_use_safe_names(tmp_path):
    assert Transcriber.to_txt(TRANSCRIPT).splitlines()[0] == "Hello there."
    evil = Transcript("hi", "en", [Segment(0, 1, "hi")], name="../../etc/pass wd.wav")
    paths = save_exports([evil, evil], tmp_path)
    assert [p.name for p in paths] == [
        "pass_wd.txt", "pass_wd.srt", "pass_wd.vtt", "pass_wd_2.txt", "pass_wd_2.srt", "pass_wd_2.vtt",
    ]  # fmt: skip
    assert all(p.parent == tmp_path for p in paths)
    assert safe_stem("...") == "transcript"


# ------------------------------------------------------------------ metrics
def test_normaliser_handles_case_punctuation_and_numbers():
    assert normalize_transcript("Our revenue grew by twenty percent!") == normalize_transcript(
        "our revenue grew by 20%"
    )
    assert word_error_rate(["He paid twenty-five dollars."], ["he paid $25"]) == 0.0
    assert word_error_rate(["a b c d"], ["a x c"]) == 0.5


def test_character_error_rate_for_chinese():
    assert character_error_rate(["今天天气很好。"], ["今天天气很好"]) == 0.0
    assert character_error_rate(["今天天气很好"], ["今天天氣很好"]) == pytest.approx(1 / 6)


def reference_edit_distance(reference: list, hypothesis: list) -> int:
    """Textbook Levenshtein, one Python cell at a time: the oracle for the numpy version."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1]


def test_fast_edit_distance_matches_the_plain_one():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = list(rng.choice(list("abcd"), rng.integers(0, 12)))
        b = list(rng.choice(list("abcd"), rng.integers(0, 12)))
        assert edit_distance(a, b) == reference_edit_distance(a, b)
