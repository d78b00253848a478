"""Speech app fixtures: LibriVox read speech and espeak-ng clips, transcribers on real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from apps.speech import Transcriber
from apps.speech.audio import to_mono_16k
from apps.speech.synth import espeak_available, speak
from shared_models.types.speech import FAST_MODEL
from tests.support.debian import require_debian_package

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session")
def librivox() -> list[tuple[str, Path, np.ndarray]]:
    """(reference text, wav path, 16 kHz samples) for Debian's five LibriVox clips."""
    listing = LIBRIVOX / "transcription"
    require_debian_package("pocketsphinx-testdata", listing.is_file(), "LibriVox read speech")
    clips = []
    for line in listing.read_text().splitlines():
        text, _, clip_id = line.rpartition("(")
        path = LIBRIVOX / f"{clip_id.strip(' )')}.wav"
        samples, rate = sf.read(path, dtype="float32")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        clips.append((words, path, to_mono_16k(samples, rate)))
    return clips


@pytest.fixture(scope="session")
def say(tmp_path_factory: pytest.TempPathFactory):
    """Speak an English sentence with espeak-ng; returns the wav path."""
    require_debian_package("espeak-ng", espeak_available(), "Synthetic speech")
    folder = tmp_path_factory.mktemp("espeak")

    def _say(text: str) -> Path:
        return speak(text, folder / f"{abs(hash(text))}.wav")

    return _say


@pytest.fixture(scope="session")
def tiny(manager) -> Transcriber:
    return Transcriber(FAST_MODEL, manager=manager)


@pytest.fixture(scope="session")
def base(manager) -> Transcriber:
    return Transcriber(manager=manager)  # the speech role's default: whisper-base
