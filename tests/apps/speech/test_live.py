"""Live transcription (apps.speech.live) on real read speech and the real whisper-tiny.en."""

from __future__ import annotations

import numpy as np
import pytest

from apps.speech.audio import resample
from apps.speech.live import CONTEXT_SECONDS, LiveTranscription, _StreamResampler
from apps.speech.metrics import word_error_rate
from core.errors import InvalidInputError

RATE = 16_000
MIC_RATE = 48_000  # what a browser's microphone usually gives
CHUNK_SECONDS = 0.5  # the page's stream_every


@pytest.mark.parametrize("rate", [48_000, 44_100, 8_000])
def test_chunked_resampling_equals_resampling_the_whole_stream(rate):
    rng = np.random.default_rng(rate)
    audio = (0.1 * rng.standard_normal(3 * rate)).astype(np.float32)
    stream = _StreamResampler(rate)
    pieces, start = [], 0
    for size in rng.integers(1, rate // 2, size=200):  # ragged chunks, down to one sample
        pieces.append(stream.push(audio[start : start + size]))
        start += size
        if start >= audio.size:
            break
    pieces.append(stream.flush())

    np.testing.assert_allclose(np.concatenate(pieces), resample(audio, rate, RATE), atol=1e-6)


def _as_microphone(samples: np.ndarray) -> np.ndarray:
    """16 kHz float speech as a browser microphone sends it: 48 kHz stereo int16."""
    wide = resample(samples, RATE, MIC_RATE)
    return (np.stack([wide, 0.8 * wide], axis=1) * 32767).clip(-32768, 32767).astype(np.int16)


def _chunks(samples: np.ndarray, rate: int, seconds: float = CHUNK_SECONDS):
    step = int(seconds * rate)
    for start in range(0, len(samples), step):
        yield (start + step) / rate, samples[start : start + step]


@pytest.mark.slow
def test_partial_text_while_speaking_and_final_text_at_the_pause(tiny, librivox):
    (ref_a, _, a), (ref_b, _, b) = librivox[0], librivox[1]
    silence = np.zeros(int(1.5 * RATE), np.float32)
    mic = _as_microphone(np.concatenate([a, silence, b]))
    live = LiveTranscription(tiny)  # the settings' interval (1 s) and pause (0.8 s)
    seen = []  # (seconds fed, final, partial)

    for fed, chunk in _chunks(mic, MIC_RATE):
        final, partial = live.feed(chunk, MIC_RATE)
        seen.append((fed, final, partial))
        assert live.open_seconds <= live.max_seconds + CHUNK_SECONDS

    a_end, b_start = a.size / RATE, (a.size + silence.size) / RATE
    # While the first sentence is spoken, its words show as partial text, none yet final.
    during_a = [(final, partial) for fed, final, partial in seen if fed <= a_end]
    assert all(final == "" for final, _ in during_a)
    partials = [partial for _, partial in during_a if partial]
    assert len(partials) >= 3, partials
    assert "dashwood" in partials[-1].lower(), partials
    # At the pause, before the second sentence starts, the first is final and nothing is open.
    final, partial = next((f, p) for fed, f, p in seen if fed >= b_start - 0.25)
    assert word_error_rate([ref_a], [final]) <= 0.15, final
    assert partial == ""
    # The second sentence is partial text before the session ends ...
    assert any("was not" in p.lower() for fed, _, p in seen if fed > b_start), seen[-4:]
    # ... and final after it.
    final, partial = live.finish()
    assert partial == "" and live.finished
    assert word_error_rate([f"{ref_a} {ref_b}"], [final]) <= 0.15, final
    # Segments are on the session's clock: the second sentence starts after the pause.
    assert live.segments[0].start < 1.0
    assert any(s.start >= a_end for s in live.segments), live.segments
    assert final.lower().index("dashwood") < final.lower().index("young man")


@pytest.mark.slow
def test_speech_without_pauses_is_finalised_every_max_seconds_with_bounded_memory(tiny, librivox):
    # Three sentences back to back, with pauses too short to count (5 s), so only the length
    # limit finalises: stretches of at most 8 s. No partials (interval 30 s): fewer decodes.
    refs, clips = zip(*[(ref, clip) for ref, _, clip in librivox[2:5]], strict=True)
    audio = np.concatenate(clips)
    live = LiveTranscription(tiny, interval=30.0, pause_seconds=5.0, max_seconds=8.0)
    most_open, most_context = 0.0, 0.0

    for _, chunk in _chunks(audio, RATE, seconds=1.0):
        live.feed(chunk, RATE)
        most_open = max(most_open, live.open_seconds)
        most_context = max(most_context, live._context.size / RATE)
    final, _ = live.finish()

    assert most_open <= 8.0 and most_context <= CONTEXT_SECONDS
    assert live.decodes >= 2  # at least one stretch was finalised at the limit, then the rest
    assert len(live.segments) >= 3 and live.segments[-1].end > audio.size / RATE - 1.0
    assert word_error_rate([" ".join(refs)], [final]) <= 0.2, final


def test_silence_and_microphone_noise_are_never_decoded(tiny):
    rng = np.random.default_rng(0)
    live = LiveTranscription(tiny)
    for _ in range(20):  # 10 s: digital silence, then a quiet microphone's hiss (-70 dBFS)
        live.feed(np.zeros(8_000, np.float32), RATE)
        live.feed((3e-4 * rng.standard_normal(8_000)).astype(np.float32), RATE)

    assert live.decodes == 0 and live.text == ("", "")
    assert live.open_seconds <= 0.5  # silence is dropped, not kept
    assert live.finish() == ("", "") and live.decodes == 0


def test_bad_chunks_and_settings_get_clear_errors(tiny):
    live = LiveTranscription(tiny, max_session_seconds=2.0)
    with pytest.raises(InvalidInputError, match="numpy array"):
        live.feed([0.0] * 100, RATE)
    with pytest.raises(InvalidInputError, match="sample rate"):
        live.feed(np.zeros(100, np.float32), 0)
    with pytest.raises(InvalidInputError, match="sample rate"):
        live.feed(np.zeros(100, np.float32), 16_000.0)
    with pytest.raises(InvalidInputError, match="NaN"):
        live.feed(np.full(100, np.nan, np.float32), RATE)
    with pytest.raises(InvalidInputError, match="1-D or 2-D"):
        live.feed(np.zeros((2, 2, 100), np.float32), RATE)
    with pytest.raises(InvalidInputError, match="dtype"):
        live.feed(np.array(["a"] * 100), RATE)
    assert live.feed(np.zeros(0, np.int16), RATE) == ("", "")  # an empty chunk is no news
    live.feed(np.zeros(RATE, np.float32), RATE)
    with pytest.raises(InvalidInputError, match="speech.live_session_seconds"):
        live.feed(np.zeros(2 * RATE, np.float32), RATE)
    live.finish()
    with pytest.raises(InvalidInputError, match="finished"):
        live.feed(np.zeros(100, np.float32), RATE)
    with pytest.raises(InvalidInputError, match="between 2 and 30"):
        LiveTranscription(tiny, max_seconds=45.0)
    with pytest.raises(InvalidInputError, match="interval"):
        LiveTranscription(tiny, interval=0)
    with pytest.raises(InvalidInputError, match="task"):
        LiveTranscription(tiny, task="summarise")


def test_limits_come_from_settings(tiny):
    live = LiveTranscription(tiny)
    speech = tiny.manager.settings.speech
    assert (live.interval, live.pause_seconds, live.max_seconds, live.max_session_seconds) == (
        speech.live_interval,
        speech.live_pause_seconds,
        speech.live_max_seconds,
        speech.live_session_seconds,
    )
    assert live.max_seconds < 30.0  # one Whisper window, with room to spare


@pytest.mark.slow
def test_page_handlers_keep_one_session_per_recording(manager, librivox):
    from apps.speech import ui

    ref, _, clip = librivox[4]  # "he might even have been made amiable himself"
    session, shown = None, []
    for _, chunk in _chunks(_as_microphone(clip), MIC_RATE):
        session, view, final = ui.live_feed(session, (MIC_RATE, chunk), "whisper-tiny.en", ui.AUTO)
        shown.append(view)
    assert session.background  # the handler returns at once; a worker decodes
    assert all('id="speech-live-partial"' in view for view in shown)

    first = session
    session, view, final = ui.live_stop(session)
    assert session.finished and word_error_rate([ref], [final]) <= 0.15, final
    assert "amiable" in view.lower() and session.decodes >= 1
    assert 'font-style: italic"></span>' in view  # nothing partial once stopped
    # The next recording is a new session; its text does not run on from the last one.
    session, view, final = ui.live_feed(
        session, (MIC_RATE, np.zeros((8_000, 2), np.int16)), "whisper-tiny.en", ui.AUTO
    )
    assert session is not first and final == ""


def test_live_text_is_escaped_on_the_page():
    from apps.speech import ui

    view = ui.live_html(("<img src=x onerror=alert(1)>", "<script>x()</script>"))
    assert "<img" not in view and "<script>" not in view and "&lt;script&gt;" in view
