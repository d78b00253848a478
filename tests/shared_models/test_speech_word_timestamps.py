"""Word timestamps of the speech role, on real read speech (Debian's LibriVox clips).

The accuracy check needs no reference timing: two clips joined by 2 s of
silence put a known pause in the audio, and the words on either side of it
must stay out of it (within ``TOLERANCE``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError
from shared_models.speech_recognition_alignment import dtw, median_filter
from shared_models.types.speech import FAST_MODEL, SAMPLE_RATE, TranscriptionRequest

GAP_SECONDS = 2.0
# s: a word boundary may miss the pause's edge by this much. Measured (bench/
# speech_word_timestamps.py) on the first pair: tiny.en +0.29/+0.26 s, base -0.23/-0.22 s.
TOLERANCE = 0.4


def _check_words(result, duration: float) -> list:
    """Words in order, not overlapping, inside the audio, and spelling the segment texts."""
    words = [w for s in result.segments for w in s.words]
    assert words, result
    for segment in result.segments:
        assert "".join(w.word for w in segment.words).strip() == segment.text
    assert all(0.0 <= w.start <= w.end <= duration for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    assert np.mean([w.probability for w in words]) > 0.5  # real speech, mostly heard well
    return words


def test_dtw_follows_the_cheap_diagonal() -> None:
    cost = np.ones((3, 6))
    for token, frames in enumerate([(0, 1), (2, 3), (4, 5)]):
        cost[token, list(frames)] = 0.0
    tokens, frames = dtw(cost)
    assert tokens.tolist() == [0, 0, 1, 1, 2, 2] and frames.tolist() == [0, 1, 2, 3, 4, 5]


def test_median_filter_removes_a_spike() -> None:
    x = torch.tensor([[[0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0]]])
    assert median_filter(x, 7).abs().max().item() == 0.0
    assert median_filter(x, 7).shape == x.shape


@pytest.mark.parametrize("model", [FAST_MODEL, "whisper-base"])
def test_words_of_read_speech_are_ordered_and_spell_the_text(manager, librivox, model) -> None:
    handle = manager.handle(model)
    clips = [audio for _, audio in librivox[:3]]
    plain = handle.call([TranscriptionRequest(a, language="en") for a in clips])
    timed = handle.call(
        [TranscriptionRequest(a, language="en", word_timestamps=True) for a in clips]
    )
    for audio, without, result in zip(clips, plain, timed, strict=True):
        # The flag adds words and changes nothing else.
        assert result.text == without.text
        assert [(s.start, s.end, s.text) for s in result.segments] == [
            (s.start, s.end, s.text) for s in without.segments
        ]
        assert all(not s.words for s in without.segments)
        words = _check_words(result, audio.size / SAMPLE_RATE)
        assert words[-1].end > 0.5 * audio.size / SAMPLE_RATE  # the words span the speech


@pytest.mark.parametrize("model", [FAST_MODEL, "whisper-base"])
def test_words_stay_out_of_a_known_pause(manager, librivox, model) -> None:
    first, second = librivox[0][1], librivox[1][1]
    # Leading and trailing silence of the clips widens the pause; measure the real one.
    gap_start = _speech_end(first) / SAMPLE_RATE
    gap_end = (first.size + GAP_SECONDS * SAMPLE_RATE + _speech_start(second)) / SAMPLE_RATE
    audio = np.concatenate([first, np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32), second])
    result = manager.handle(model).call(
        [TranscriptionRequest(audio, language="en", word_timestamps=True)]
    )[0]
    words = _check_words(result, audio.size / SAMPLE_RATE)
    before = [w for w in words if (w.start + w.end) / 2 < (gap_start + gap_end) / 2]
    after = words[len(before) :]
    assert before and after
    assert before[-1].end <= gap_start + TOLERANCE, (before[-1], gap_start)
    assert after[0].start >= gap_end - TOLERANCE, (after[0], gap_end)
    assert after[0].start > gap_start  # the first word after the pause starts after it began


def test_word_timestamps_need_segment_timestamps(manager, librivox) -> None:
    request = TranscriptionRequest(librivox[0][1], timestamps=False, word_timestamps=True)
    with pytest.raises(InvalidInputError, match="word_timestamps needs timestamps"):
        manager.handle(FAST_MODEL).call([request])


def _frame_db(audio: np.ndarray) -> np.ndarray:
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def _speech_start(audio: np.ndarray) -> int:
    """The first sample of speech: the first 10 ms frame within 35 dB of the loudest."""
    db = _frame_db(audio)
    return int(np.argmax(db > db.max() - 35)) * 160


def _speech_end(audio: np.ndarray) -> int:
    db = _frame_db(audio)
    return (len(db) - int(np.argmax(db[::-1] > db.max() - 35))) * 160
