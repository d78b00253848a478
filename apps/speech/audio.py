"""Reading audio for the speech app: any soundfile format, rate and channel count in,
16 kHz mono float32 out, with a clear ``InvalidInputError`` for anything unusable.

Resampling is numpy (the app imports no torch): the same band-limited sinc
interpolation with a Hann window as ``torchaudio.functional.resample``'s default,
so the model hears what it heard when the app used torchaudio; the tests hold the
two together.

Limits come from ``core.settings.Limits``: ``max_upload_mb`` for the file size
(checked before anything is decoded) and ``max_audio_seconds`` for the length
(checked from the header before decoding, and again after decoding for arrays).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import InvalidInputError
from core.files import check_file_size
from shared_models.types.speech import SAMPLE_RATE

# Extensions libsndfile reads (wav, flac, ogg/opus, mp3 and the older PCM containers).
# Anything else is refused by name before a byte is read, so "report.pdf" gets a
# message about the file type rather than a decoder error.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".au", ".snd", ".caf", ".w64", ".rf64"}
)  # fmt: skip


# The resampling filter: torchaudio's defaults (zero crossings kept each side, and the
# cut-off as a fraction of the lower Nyquist frequency).
_ZERO_CROSSINGS = 6
_ROLLOFF = 0.99
_CHUNK_SAMPLES = 1 << 22  # samples read and written per chunk (a few MB)


@dataclass(frozen=True)
class Audio:
    """Decoded audio ready for the model: 16 kHz mono float32, plus where it came from."""

    samples: np.ndarray
    name: str
    original_rate: int
    original_channels: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.size / SAMPLE_RATE


def describe_limit(max_seconds: float) -> str:
    """A person-readable length limit ("30 min", "45 s")."""
    if max_seconds >= 60:
        minutes = max_seconds / 60
        return f"{minutes:g} min"
    return f"{max_seconds:g} s"


def _too_long(name: str, seconds: float, max_seconds: float) -> InvalidInputError:
    return InvalidInputError(
        f"'{name}' is {seconds / 60:.1f} min long; the limit is {describe_limit(max_seconds)} "
        f"({max_seconds:g} s, setting limits.max_audio_seconds). Trim or split the recording."
    )


def load_audio(
    source: str | os.PathLike | tuple[np.ndarray, int] | tuple[int, np.ndarray],
    *,
    max_seconds: float,
    max_upload_mb: float,
    name: str | None = None,
) -> Audio:
    """Decode a file path or an ``(samples, sample_rate)`` pair into 16 kHz mono.

    Gradio's numpy audio order ``(sample_rate, samples)`` is accepted too.
    Raises ``InvalidInputError`` for a missing, empty, oversized, corrupt or
    non-audio file, a wrong extension, NaN or infinite samples, or audio longer
    than ``max_seconds``.
    """
    if isinstance(source, tuple):
        return _from_array(source, max_seconds=max_seconds, name=name or "audio")
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(
            "Audio must be a file path or a (samples, sample_rate) pair, "
            f"got {type(source).__name__}."
        )
    path = Path(source)
    label = name or path.name
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        allowed = ", ".join(sorted(e.lstrip(".") for e in AUDIO_EXTENSIONS))
        raise InvalidInputError(
            f"'{label}' does not look like an audio file (extension '{path.suffix or 'none'}'). "
            f"Supported: {allowed}."
        )
    if not path.is_file():
        raise InvalidInputError(f"No such audio file: '{label}'.")
    if check_file_size(path, max_upload_mb, what="audio file", label=label) == 0:
        raise InvalidInputError(f"'{label}' is an empty file.")
    try:
        # libsndfile identifies the format from the content, so a wav named .mp3 still reads.
        with sf.SoundFile(path) as fh:
            rate, channels, frames = fh.samplerate, fh.channels, fh.frames
            # mp3/ogg headers may not know the frame count; then the decoded length decides.
            if 0 < frames < 2**62 and frames / rate > max_seconds:
                raise _too_long(label, frames / rate, max_seconds)
            samples = fh.read(dtype="float32", always_2d=True)
    except InvalidInputError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        raise InvalidInputError(
            f"'{label}' could not be read as audio: it is corrupt or not an audio file ({exc})."
        ) from None
    if samples.shape[0] == 0:
        raise InvalidInputError(f"'{label}' contains no audio samples.")
    if samples.shape[0] / rate > max_seconds:
        raise _too_long(label, samples.shape[0] / rate, max_seconds)
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"'{label}' contains NaN or infinite samples.")
    mono = to_mono_16k(samples if channels > 1 else samples[:, 0], int(rate))
    return Audio(mono, label, int(rate), int(channels))


def _from_array(pair: tuple, *, max_seconds: float, name: str) -> Audio:
    if len(pair) != 2:
        raise InvalidInputError("Pass audio as (samples, sample_rate).")
    first, second = pair
    samples, rate = (second, first) if isinstance(second, np.ndarray) else (first, second)
    if not isinstance(samples, np.ndarray):
        raise InvalidInputError("Audio samples must be a numpy array.")
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise InvalidInputError(f"The sample rate must be a positive integer, got {rate!r}.")
    if samples.ndim in (1, 2) and samples.size:
        frames = max(samples.shape) if samples.ndim == 2 else samples.shape[0]
        if frames / rate > max_seconds:
            raise _too_long(name, frames / rate, max_seconds)
    channels = 1 if samples.ndim == 1 else min(samples.shape)
    mono = to_mono_16k(samples, int(rate))  # validates dtype, shape, NaN
    return Audio(mono, name, int(rate), int(channels))


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Any decoded audio as the float32 mono 16 kHz array the speech model takes.

    ``samples`` is 1-D, or 2-D with channels on the shorter axis (soundfile's
    ``(frames, channels)`` and torchaudio's ``(channels, frames)`` both work);
    channels are averaged. Integer PCM is scaled to [-1, 1]. Raises
    ``InvalidInputError`` for a bad rate, shape or dtype, or NaN/infinite samples.
    """
    if not isinstance(samples, np.ndarray):
        raise InvalidInputError("Audio must be a numpy array of samples.")
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int | np.integer)
        or sample_rate <= 0
    ):
        raise InvalidInputError(f"The sample rate must be a positive integer, got {sample_rate!r}.")
    if samples.ndim not in (1, 2) or samples.size == 0:
        raise InvalidInputError(
            f"Audio must be a non-empty 1-D or 2-D (frames x channels) array, got shape {samples.shape}."
        )
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        # Unsigned PCM (8-bit wav) is centred on the middle of its range.
        offset = (int(info.max) + 1) / 2 if info.min == 0 else 0.0
        audio = (samples.astype(np.float64) - offset) / (int(info.max) + 1 - offset)
    elif np.issubdtype(samples.dtype, np.floating):
        audio = samples.astype(np.float64, copy=False)
    else:
        raise InvalidInputError(f"Audio samples must be numbers, got dtype {samples.dtype}.")
    if not np.isfinite(audio).all():
        raise InvalidInputError("Audio contains NaN or infinite samples.")
    if audio.ndim == 2:
        channel_axis = 1 if audio.shape[1] <= audio.shape[0] else 0
        audio = audio.mean(axis=channel_axis)
    mono = np.ascontiguousarray(audio, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        mono = resample(mono, int(sample_rate), SAMPLE_RATE)
    return mono


@lru_cache(maxsize=16)
def sinc_kernel(orig: int, new: int) -> tuple[np.ndarray, int]:
    """The ``(new, 2 * width + orig)`` filter bank and ``width`` for reduced rates orig -> new.

    Output sample ``j`` of each block of ``new`` is the input, around ``j * orig / new``,
    weighted by a Hann-windowed sinc whose cut-off is ``rolloff`` times the lower
    Nyquist frequency (an anti-aliasing low-pass when downsampling).
    """
    base = min(orig, new) * _ROLLOFF
    width = math.ceil(_ZERO_CROSSINGS * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64) / orig
    t = (np.arange(0, -new, -1, dtype=np.float64) / new)[:, None] + idx[None, :]
    t = np.clip(t * base, -_ZERO_CROSSINGS, _ZERO_CROSSINGS)
    window = np.cos(t * math.pi / _ZERO_CROSSINGS / 2) ** 2
    t *= math.pi
    safe = np.where(t == 0, 1.0, t)
    kernel = np.where(t == 0, 1.0, np.sin(safe) / safe) * window * (base / orig)
    return kernel.astype(np.float32), width


def resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """1-D float32 ``audio`` from ``orig_rate`` to ``new_rate`` (band-limited sinc interpolation).

    The rates are reduced by their gcd, so every block of ``orig`` input samples
    gives ``new`` output samples from one ``(new, taps)`` filter bank. Seen as rows
    of ``orig`` samples, block ``i`` reads rows ``i .. i + m - 1``; so the whole
    filter is ``m`` plain matrix products over contiguous row ranges (no copied
    windows), done in chunks of a few MB.
    """
    if orig_rate == new_rate:
        return audio
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    kernel, width = sinc_kernel(orig, new)
    n_taps = kernel.shape[1]
    m = -(-n_taps // orig)  # rows of input each block reads
    taps = np.ascontiguousarray(kernel.T)
    blocks = audio.size // orig + 1
    rows = np.zeros((blocks + m - 1) * orig, dtype=np.float32)
    rows[width : width + audio.size] = audio  # width zeros before, as torchaudio pads
    rows = rows.reshape(-1, orig)
    out = np.zeros((blocks, new), dtype=np.float32)
    step = max(1, _CHUNK_SAMPLES // (orig + new))
    for start in range(0, blocks, step):
        stop = min(start + step, blocks)
        for k in range(m):
            used = min(orig, n_taps - k * orig)  # the last row is read only as far as the filter
            out[start:stop] += rows[start + k : stop + k, :used] @ taps[k * orig : k * orig + used]
    return out.reshape(-1)[: math.ceil(new * audio.size / orig)]
