"""Example clips for the page, made at run time into ``<data_dir>/speech/examples``.

English and Mandarin clips are spoken by espeak-ng (when installed); one is
stored as 48 kHz stereo FLAC and one is longer than a model window, so the
examples also show resampling, down-mixing and long-audio stitching. Debian's
pocketsphinx-testdata LibriVox clips (read speech, public domain) are offered
too when that package is installed.

The short clips say sentences Whisper base hears word for word in espeak-ng's voice
(`tests/apps/speech/test_examples.py`). Some of the synthetic sentences it mishears
in isolation ("Our revenue grew by twenty percent" comes out as "I remember the group
I spent 20%"), and espeak-ng's Mandarin voice, which reads tone-numbered pinyin, is
heard poorly on most sentences and detected as Thai or Vietnamese: the example people
click first must not show that. The Mandarin example therefore says which language it
is (``EXAMPLE_LANGUAGES``); the benchmark (`bench/speech.py`) measures the whole sets.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf

from .synth import ENGLISH, MANDARIN, espeak_available, speak

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
INVOICE_CLIP = "invoice_delivery.wav"  # the first example, on the page and the home page
MANDARIN_CLIP = "mandarin_coffee.wav"
# The language an example sets on the page; the others leave it to detection.
EXAMPLE_LANGUAGES = {MANDARIN_CLIP: "zh"}
log = logging.getLogger(__name__)


def _make_stereo_48k(source: Path, target: Path) -> None:
    import torch
    import torchaudio.functional as AF

    samples, rate = sf.read(source, dtype="float32")
    at_48k = AF.resample(torch.from_numpy(samples), rate, 48_000).numpy()
    sf.write(target, np.stack([at_48k, 0.7 * at_48k], axis=1), 48_000, format="FLAC")


def _make_long(folder: Path, target: Path) -> None:
    parts, rate = [], 22_050
    for i, sentence in enumerate(ENGLISH[:10]):
        samples, rate = sf.read(speak(sentence, folder / f"_part{i}.wav"), dtype="float32")
        parts += [samples, np.zeros(int(0.6 * rate), np.float32)]
        (folder / f"_part{i}.wav").unlink()
    sf.write(target, np.concatenate(parts), rate)


def example_files(data_dir: Path) -> list[Path]:
    """Paths of the example clips, generating any that are missing. Never raises."""
    folder = Path(data_dir) / "speech" / "examples"
    examples: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if espeak_available():
            invoice = folder / INVOICE_CLIP
            if not invoice.exists():
                speak(ENGLISH[0] + " " + ENGLISH[5], invoice)
            stereo = folder / "release_48k_stereo.flac"
            if not stereo.exists():
                _make_stereo_48k(speak(ENGLISH[1], folder / "_release.wav"), stereo)
                (folder / "_release.wav").unlink()
            long = folder / "ten_sentences_long.wav"
            if not long.exists():
                _make_long(folder, long)
            mandarin = folder / MANDARIN_CLIP
            if not mandarin.exists():
                speak(MANDARIN[1][1], mandarin, voice="cmn-latn-pinyin")
            examples += [invoice, stereo, long, mandarin]
    except Exception as exc:  # examples are a convenience: the page works without them
        log.warning("Could not make the speech examples: %s", exc)
    if LIBRIVOX.is_dir():
        examples += sorted(LIBRIVOX.glob("*.wav"))[:2]
    return [p for p in examples if p.is_file()]


def example_language(path: Path | str) -> str | None:
    """The language code an example clip is in when detection cannot be trusted with it;
    ``None``: detect it."""
    return EXAMPLE_LANGUAGES.get(Path(path).name)
