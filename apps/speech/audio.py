"""Reading audio for the speech app: any soundfile format, rate and channel count in,
16 kHz mono float32 out, with a clear ``InvalidInputError`` for anything unusable.

Limits come from ``core.settings.Limits``: ``max_upload_mb`` for the file size
(checked before anything is decoded) and ``max_audio_seconds`` for the length
(checked from the header before decoding, and again after decoding for arrays).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import InvalidInputError
from core.files import check_file_size
from shared_models.speech_recognition import SAMPLE_RATE, to_mono_16k

# Extensions libsndfile reads (wav, flac, ogg/opus, mp3 and the older PCM containers).
# Anything else is refused by name before a byte is read, so "report.pdf" gets a
# message about the file type rather than a decoder error.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".au", ".snd", ".caf", ".w64", ".rf64"}
)  # fmt: skip


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
