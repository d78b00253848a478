"""Audio preparation for the speech role: any decoded samples in, float32 mono 16 kHz out.

The role itself takes only prepared windows (see ``shared_models.types.speech``);
this is for callers on the model side (tests, benchmarks) that hold raw samples.
The speech app has its own torch-free copy (``apps.speech.audio.to_mono_16k``),
checked against this one by its tests.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import InvalidInputError

from .types.speech import SAMPLE_RATE


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Any decoded audio as the float32 mono 16 kHz array the speech role takes.

    ``samples`` is 1-D, or 2-D with channels on the shorter axis (soundfile's
    ``(frames, channels)`` and torchaudio's ``(channels, frames)`` both work);
    channels are averaged. Integer PCM is scaled to [-1, 1].
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
    mono = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if sample_rate != SAMPLE_RATE:
        import torchaudio.functional as AF

        mono = AF.resample(mono, int(sample_rate), SAMPLE_RATE)
    return mono.numpy().astype(np.float32, copy=False)
