"""Reading audio: formats, rates, channels, and every kind of bad file (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from apps.speech.audio import load_audio, to_mono_16k
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


# ------------------------------------------------------------------ resampling (numpy, no torch)
@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 24_000, 44_100, 48_000, 96_000])
def test_resampling_matches_torchaudio(rate):
    """The app's numpy resampler gives what torchaudio's default resampler gave."""
    import torch
    import torchaudio.functional as AF

    rng = np.random.default_rng(rate)
    stereo = (0.3 * rng.standard_normal((rate * 3 + 7, 2))).astype(np.float32)
    ours = to_mono_16k(stereo, rate)
    theirs = AF.resample(torch.from_numpy(stereo.mean(axis=1)), rate, 16_000).numpy()
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_to_mono_16k_scales_pcm_and_accepts_either_channel_layout():
    np.testing.assert_allclose(
        to_mono_16k(np.array([0, 16384, -32768], dtype=np.int16), 16_000), [0.0, 0.5, -1.0]
    )
    np.testing.assert_allclose(  # unsigned 8-bit PCM is centred on 128
        to_mono_16k(np.array([128, 192, 0], dtype=np.uint8), 16_000), [0.0, 0.5, -1.0]
    )
    tone = _tone(48_000, 1.0)
    frames_first = np.stack([tone, 0.5 * tone], axis=1)
    mono = to_mono_16k(frames_first, 48_000)
    assert mono.shape == (16_000,)
    np.testing.assert_allclose(to_mono_16k(frames_first.T.copy(), 48_000), mono, atol=1e-6)


@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        (np.array([0.1, np.nan], np.float32), 16_000),
        (np.array([0.1, np.inf], np.float32), 44_100),
        (np.zeros(0, np.float32), 16_000),
        (np.zeros((2, 2, 2), np.float32), 16_000),
        (np.zeros(10, np.float32), 0),
        (np.zeros(10, np.float32), True),
        (np.array(["a", "b"]), 16_000),
        ([0.1, 0.2], 16_000),
    ],
)
def test_to_mono_16k_refuses_unusable_audio(samples, rate):
    with pytest.raises(InvalidInputError):
        to_mono_16k(samples, rate)
