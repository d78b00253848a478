"""Reading audio: formats, rates, channels, and every kind of bad file (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from apps.speech.audio import load_audio
from core.errors import InvalidInputError

LIMITS = {"max_seconds": 60.0, "max_upload_mb": 5.0}


def _tone(rate: int, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("suffix", "fmt", "rate", "channels"),
    [
        (".wav", "WAV", 8_000, 1),
        (".wav", "WAV", 48_000, 2),
        (".flac", "FLAC", 44_100, 2),
        (".ogg", "OGG", 22_050, 1),
        (".mp3", "MP3", 48_000, 2),
    ],
)
def test_any_format_rate_and_channels_become_16k_mono(tmp_path, suffix, fmt, rate, channels):
    tone = _tone(rate)
    data = np.stack([tone, 0.5 * tone], axis=1) if channels == 2 else tone
    path = tmp_path / f"clip{suffix}"
    sf.write(path, data, rate, format=fmt)

    audio = load_audio(path, **LIMITS)

    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration == pytest.approx(2.0, abs=0.1)  # mp3 adds a little padding
    assert (audio.original_rate, audio.original_channels) == (rate, channels)
    # The tone survives resampling and down-mixing: its energy is where it should be.
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.argmax(spectrum) * 16_000 / audio.samples.size == pytest.approx(220, abs=5)


def test_arrays_in_either_order(tmp_path):
    tone = _tone(8_000)
    first = load_audio((tone, 8_000), **LIMITS)
    second = load_audio((8_000, tone), **LIMITS)  # Gradio's numpy order
    np.testing.assert_array_equal(first.samples, second.samples)
    assert first.samples.size == 32_000


def test_wav_content_with_an_mp3_name_still_reads(tmp_path):
    path = tmp_path / "mislabelled.mp3"
    sf.write(path, _tone(16_000), 16_000, format="WAV")
    assert load_audio(path, **LIMITS).duration == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"hello", "does not look like an audio file"),
        ("no_extension", b"RIFF", "does not look like an audio file"),
        ("empty.wav", b"", "empty file"),
        ("corrupt.wav", b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10, "could not be read as audio"),
        ("text.flac", b"just text, not audio", "could not be read as audio"),
        ("../../etc/evil.wav", None, "No such audio file"),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        load_audio(path, **LIMITS)


def test_nan_samples_are_refused(tmp_path):
    samples = _tone(16_000)
    samples[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples, 16_000, subtype="FLOAT")
    with pytest.raises(InvalidInputError, match="NaN"):
        load_audio(path, **LIMITS)
    with pytest.raises(InvalidInputError, match="NaN"):
        load_audio((samples, 16_000), **LIMITS)


def test_too_long_audio_names_the_limit(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16_000 * 61, np.float32), 16_000)
    with pytest.raises(InvalidInputError, match=r"limit is 1 min \(60 s"):
        load_audio(path, **LIMITS)
    with pytest.raises(InvalidInputError, match="max_audio_seconds"):
        load_audio((np.zeros(8_000 * 61, np.float32), 8_000), **LIMITS)


def test_oversized_upload_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.wav"
    sf.write(path, np.zeros(16_000 * 59, np.float32), 16_000, subtype="FLOAT")  # ~3.8 MB
    with pytest.raises(InvalidInputError, match="upload limit is 1 MB"):
        load_audio(path, max_seconds=60.0, max_upload_mb=1.0)
