"""Fixtures shared by the model-role tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from apps.speech.audio import to_mono_16k
from tests.support.debian import require_debian_package

# Debian's pocketsphinx-testdata: real read speech with reference transcripts.
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session")
def librivox() -> list[tuple[str, np.ndarray]]:
    """(reference text, 16 kHz audio) for each LibriVox clip."""
    transcription = LIBRIVOX / "transcription"
    require_debian_package("pocketsphinx-testdata", transcription.is_file(), "LibriVox read speech")
    clips = []
    for line in transcription.read_text().splitlines():
        text, _, clip_id = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        samples, rate = sf.read(LIBRIVOX / f"{clip_id.strip(' )')}.wav", dtype="float32")
        clips.append((words, to_mono_16k(samples, rate)))
    return clips
