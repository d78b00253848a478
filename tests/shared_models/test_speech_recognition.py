"""The speech role on real models: read speech, synthetic speech, silence, bad input.

Real read speech comes from Debian's pocketsphinx-testdata (five LibriVox clips
with reference transcripts); synthetic speech from espeak-ng. A Mandarin
espeak-ng check is deliberately absent: whisper-base hears espeak-ng's
``cmn-latn-pinyin`` voice as Thai (p(th) 0.7-0.97 over five phrasings), and
forcing ``language="zh"`` gives unrelated Chinese text, so it would test
espeak-ng rather than the model.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from apps.speech.audio import to_mono_16k  # the one audio preparation, the app's
from apps.speech.metrics import normalize_text
from apps.speech.metrics import word_error_rate as app_word_error_rate
from core.errors import InvalidInputError, OfflineModelError
from core.manager import ModelManager
from core.settings import ModelChoices, Settings
from shared_models.speech_recognition import (  # importing registers the speech models
    FAST,
    LANGUAGES,
    MAX_SAMPLES,
    SAMPLE_RATE,
    Segment,
    TranscriptionRequest,
    TranscriptionResult,
)
from tests.support.debian import require_debian_package

INVOICE = "Please send the invoice to our office before Friday."
SHIPPED = "We shipped the new version of the app to all customers today."
KEYS = "The quick brown fox jumps over the lazy dog."

slow = pytest.mark.slow  # loads a real model


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER after ``normalize_text`` only (no English number/spelling rules): the strict score."""
    return app_word_error_rate(references, hypotheses, english_rules=False)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def speak(tmp_path_factory: pytest.TempPathFactory):
    """Say a sentence with espeak-ng; returns (samples, sample_rate) as espeak wrote them."""
    require_debian_package("espeak-ng", shutil.which("espeak-ng") is not None, "Synthetic speech")
    folder = tmp_path_factory.mktemp("espeak")

    def say(text: str) -> tuple[np.ndarray, int]:
        path = folder / f"{abs(hash(text))}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        samples, rate = sf.read(path, dtype="float32")
        return samples, rate

    return say


@pytest.fixture(scope="module")
def base(manager):
    return manager.handle("speech")  # the role's default: whisper-base


@pytest.fixture(scope="module")
def tiny(manager):
    return manager.handle(FAST)


def _assert_result(result: object) -> TranscriptionResult:
    assert isinstance(result, TranscriptionResult), result
    return result


# to_mono_16k (the app's audio preparation) is tested in tests/apps/speech/test_audio_input.py.


def test_the_torch_free_language_table_is_whispers() -> None:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES as WHISPER_LANGUAGES

    assert LANGUAGES == WHISPER_LANGUAGES


def test_normalizer_and_word_error_rate() -> None:
    assert (
        normalize_text("He was not an ill-disposed young man.")
        == "he was not an ill disposed young man"
    )
    assert normalize_text("“Don’t,” she said — twice!") == "don't she said twice"
    assert word_error_rate(["a b c d"], ["a x c"]) == 0.5  # one substitution, one deletion
    assert word_error_rate(["One two.", "three"], ["one two", "three four"]) == pytest.approx(1 / 3)


# ------------------------------------------------------------------ real speech
@slow
def test_whisper_base_transcribes_librivox_read_speech(base, librivox) -> None:
    results = [_assert_result(r) for r in base.call([TranscriptionRequest(a) for _, a in librivox])]

    wer = word_error_rate([ref for ref, _ in librivox], [r.text for r in results])
    assert wer < 0.25, [r.text for r in results]
    assert all(r.language == "en" for r in results)  # detected, not given
    assert all(r.segments for r in results)


@slow
def test_tiny_en_transcribes_espeak_english(tiny, speak) -> None:
    samples, rate = speak(INVOICE)

    (result,) = tiny.call([TranscriptionRequest(to_mono_16k(samples, rate))])

    # At most one word wrong out of nine: synthetic speech, the smallest model.
    assert word_error_rate([INVOICE], [_assert_result(result).text]) <= 0.12, result.text
    assert result.language == "en"


@slow
def test_a_batch_returns_each_row_its_own_text(tiny, speak, librivox) -> None:
    invoice = to_mono_16k(*speak(INVOICE))
    shipped = to_mono_16k(*speak(SHIPPED))
    clip_ref, clip = librivox[4]
    refs = [INVOICE, SHIPPED, clip_ref]

    results = tiny.call([TranscriptionRequest(a) for a in (invoice, shipped, clip)])

    for ref, result in zip(refs, results, strict=True):
        own = word_error_rate([ref], [_assert_result(result).text])
        others = [word_error_rate([r], [result.text]) for r in refs if r != ref]
        assert own < 0.3 and own < min(others), (ref, result.text)


@slow
def test_stereo_48k_audio_works_through_to_mono_16k(tiny, speak) -> None:
    import torch
    import torchaudio.functional as AF

    samples, rate = speak(INVOICE)
    at_48k = AF.resample(torch.from_numpy(samples), rate, 48_000).numpy()
    stereo = np.stack([at_48k, 0.8 * at_48k], axis=1)

    (result,) = tiny.call([TranscriptionRequest(to_mono_16k(stereo, 48_000))])

    assert word_error_rate([INVOICE], [_assert_result(result).text]) <= 0.12, result.text


@slow
def test_timestamps_mark_each_sentence_in_order(base, speak) -> None:
    gap = np.zeros(SAMPLE_RATE, np.float32)
    parts = [to_mono_16k(*speak(s)) for s in (INVOICE, SHIPPED, KEYS)]
    audio = np.concatenate([gap[:8000], parts[0], gap, parts[1], gap, parts[2]])
    duration = audio.size / SAMPLE_RATE

    with_times, without = base.call(
        [TranscriptionRequest(audio), TranscriptionRequest(audio, timestamps=False)]
    )

    segments = _assert_result(with_times).segments
    assert len(segments) >= 2 and all(isinstance(s, Segment) for s in segments)
    assert segments[0].start < 1.5 and segments[-1].end > duration - 3
    for seg in segments:
        assert 0.0 <= seg.start <= seg.end <= duration and seg.text
    for earlier, later in zip(segments, segments[1:], strict=False):
        assert earlier.start < later.start and earlier.end <= later.start + 1e-6
    assert " ".join(s.text for s in segments) == with_times.text
    assert word_error_rate([f"{INVOICE} {SHIPPED} {KEYS}"], [with_times.text]) < 0.2
    assert _assert_result(without).segments == [] and without.text


@slow
def test_a_named_language_is_used_and_reported_as_a_code(base, librivox) -> None:
    ref, clip = librivox[1]
    (result,) = base.call([TranscriptionRequest(clip, language="English")])
    assert _assert_result(result).language == "en"
    assert word_error_rate([ref], [result.text]) < 0.25


# ------------------------------------------------------------------ silence and bad input
@slow
def test_silence_and_noise_give_empty_text(base, tiny) -> None:
    rng = np.random.default_rng(0)
    rows = [
        np.zeros(2 * SAMPLE_RATE, np.float32),  # digital silence
        # Faint noise stays below the RMS gate; louder hiss reaches the model,
        # which must judge it as no speech.
        (rng.standard_normal(3 * SAMPLE_RATE) * 5e-4).astype(np.float32),
        (rng.standard_normal(3 * SAMPLE_RATE) * 0.05).astype(np.float32),
    ]
    for result in base.call([TranscriptionRequest(a) for a in rows]):
        assert _assert_result(result).text == "" and result.segments == []
        assert result.language is None  # nothing heard, nothing to detect
    (result,) = tiny.call([TranscriptionRequest(rows[0])])
    assert _assert_result(result).text == "" and result.language == "en"


@slow
def test_bad_rows_get_their_own_error_and_the_rest_still_run(manager, librivox) -> None:
    ref, clip = librivox[4]
    rows: list[object] = [
        TranscriptionRequest(clip),
        TranscriptionRequest(np.array([0.1, np.nan], np.float32)),
        TranscriptionRequest(np.zeros(MAX_SAMPLES + 1, np.float32)),
        TranscriptionRequest(clip.astype(np.float64)),
        TranscriptionRequest(np.stack([clip, clip])),
        TranscriptionRequest(np.zeros(0, np.float32)),
        "not a request",
        TranscriptionRequest(clip, language="fr"),  # English-only model
        TranscriptionRequest(clip, task="translate"),
        TranscriptionRequest(clip, task="summarize"),  # type: ignore[arg-type]
    ]
    with manager.use(FAST) as runner:
        outputs = runner(rows)

    assert word_error_rate([ref], [_assert_result(outputs[0]).text]) < 0.25
    assert all(isinstance(o, InvalidInputError) for o in outputs[1:]), outputs
    assert "Split" in str(outputs[2]) and "to_mono_16k" in str(outputs[3])


@slow
def test_a_call_with_a_bad_request_raises_for_that_caller(base) -> None:
    with pytest.raises(InvalidInputError, match="NaN"):
        base.call([TranscriptionRequest(np.full(1000, np.nan, np.float32))])
    with pytest.raises(InvalidInputError, match="at most 30 s"):
        base.call([TranscriptionRequest(np.zeros(31 * SAMPLE_RATE, np.float32))])
    with pytest.raises(InvalidInputError, match="Unknown language"):
        base.call([TranscriptionRequest(np.ones(1000, np.float32), language="klingon")])


# ------------------------------------------------------------------ external sources
@slow
def test_external_local_folder_loads_a_transformers_whisper(settings, manager, speak) -> None:
    # The converted cache folder is a standard transformers checkpoint.
    manager.load(FAST)
    folder = settings.model_cache_dir / FAST
    local = Settings(
        data_dir=settings.data_dir,
        cache_dir=settings.model_cache_dir,
        models=ModelChoices(speech=f"local:{folder}"),
    )
    other = ModelManager(local)
    try:
        handle = other.handle("speech")
        assert handle.name == f"local:{folder}"
        (result,) = handle.call([TranscriptionRequest(to_mono_16k(*speak(INVOICE)))])
    finally:
        other.close()
    assert word_error_rate([INVOICE], [_assert_result(result).text]) <= 0.12


@slow
def test_external_hub_model_offline_names_the_bundled_default(settings) -> None:
    hub = Settings(
        data_dir=settings.data_dir,
        cache_dir=settings.model_cache_dir,
        models=ModelChoices(speech="hub:openai/whisper-tiny-not-cached"),
        offline=True,
    )
    other = ModelManager(hub)
    try:
        with pytest.raises(OfflineModelError, match="whisper-base"):
            other.load("speech")
    finally:
        other.close()
