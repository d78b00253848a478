"""Greedy Whisper decoding, int8 quantization, and batching of concurrent callers.

The timestamp rules and the quantization helper are checked on plain tensors
and layers; everything else runs the real bundled models.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

from apps.speech.metrics import word_error_rate as app_word_error_rate
from core.manager import ModelManager
from core.settings import Settings
from shared_models.quantization import (
    bf16_supported,
    count_int8_linears,
    int8_supported,
    quantize_linear_int8,
)
from shared_models.speech_recognition import (  # importing registers the speech models
    DEFAULT,
    FAST,
    TranscriptionRequest,
    TranscriptionResult,
)
from shared_models.speech_recognition_decoding import (
    DecodingRules,
    GreedyWhisperDecoder,
    WhisperDecoderStep,
)

slow = pytest.mark.slow  # loads a real model


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER after ``normalize_text`` only (no English number/spelling rules): the strict score."""
    return app_word_error_rate(references, hypotheses, english_rules=False)


# A toy vocabulary: text 0-9, end-of-text 10, <|notimestamps|> 11, timestamps 12-19.
EOT, NO_TS, TS = 10, 11, 12
RULES = DecodingRules(
    sot=9,
    eot=EOT,
    no_timestamps=NO_TS,
    timestamp_begin=TS,
    suppress=torch.tensor([], dtype=torch.long),
    begin_suppress=torch.tensor([EOT]),
    max_initial_timestamp=2,
)


def _allowed(
    sequence: list[int], first: bool = False, logits: torch.Tensor | None = None
) -> set[int]:
    decoder = GreedyWhisperDecoder.__new__(GreedyWhisperDecoder)  # rules only, no model needed
    decoder.rules = RULES
    if logits is None:  # text and end likelier than timestamps: only the pairing rules decide
        logits = torch.zeros(20)
        logits[: EOT + 1] = 5.0
    scores = logits.clone().unsqueeze(0)
    decoder._timestamp_rules(scores, [sequence], first=first)
    return {i for i in range(20) if scores[0, i] > -torch.inf}


# ------------------------------------------------------------------ timestamp rules (no model)
def test_the_first_token_is_an_early_timestamp() -> None:
    assert _allowed([], first=True) == {TS, TS + 1, TS + 2}


def test_timestamps_come_in_pairs_and_never_go_back() -> None:
    # An open segment <|t1|> text: text, end, or a closing timestamp after t1 ... all except t0.
    assert _allowed([TS + 1, 3]) == set(range(10)) | {EOT} | set(range(TS + 2, 20))
    # Just closed a segment with <|t3|>: only <|t3|> (to open the next) or later, or the end.
    assert _allowed([TS + 1, 3, TS + 3]) == {EOT} | set(range(TS + 3, 20))
    # A closed pair <|t3|><|t3|>: text must follow.
    assert _allowed([TS + 1, 3, TS + 3, TS + 3]) == set(range(10)) | {EOT}


def test_a_timestamp_is_forced_when_timestamps_together_outweigh_any_text() -> None:
    logits = torch.zeros(20)
    logits[TS:] = 2.0  # each timestamp a little likelier than each text token, and eight of them
    assert _allowed([TS, 3], logits=logits) == set(range(TS + 1, 20))


# ------------------------------------------------------------------ quantization helper
def test_int8_linears_stay_close_to_float() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 32)).eval()
    x = torch.randn(8, 64)
    expected = net(x)
    if not int8_supported("cpu"):
        pytest.skip("no quantized CPU engine in this torch build")
    quantized = quantize_linear_int8(net)

    assert count_int8_linears(quantized) == 2
    assert torch.allclose(quantized(x), expected, atol=0.05, rtol=0.05)
    single = quantize_linear_int8(nn.Linear(64, 16))
    assert count_int8_linears(single) == 1 and not int8_supported("cuda")


# ------------------------------------------------------------------ real models
@slow
def test_int8_is_the_cpu_default_and_can_be_turned_off(manager, settings) -> None:
    with manager.use(FAST) as runner:
        quantized = count_int8_linears(runner.model)
        encoder_dtype = runner.encoder_dtype
    if manager.policy.is_cuda or not int8_supported("cpu"):
        assert quantized == 0
    else:
        # Decoder: 4 layers x (self-attention 4 + cross-attention 4 + MLP 2), and the output.
        assert quantized == 4 * 10 + 1
        # An English-only model's encoder goes to bfloat16 with it, where the CPU runs
        # bfloat16 natively; a multilingual one keeps float32 weights and runs its matrix
        # products under bfloat16 autocast (bfloat16 throughout hurt Chinese).
        assert encoder_dtype == (torch.bfloat16 if bf16_supported("cpu") else torch.float32)
        with manager.use(DEFAULT) as runner:
            assert runner.encoder_dtype == torch.float32
            assert runner.encoder_autocast == bf16_supported("cpu")
            assert "decoder int8 linears" in runner.precision()
            assert ("autocast" in runner.precision()) == bf16_supported("cpu")
    plain = ModelManager(settings.model_copy(update={"quantize": "none"}))
    try:
        with plain.use(FAST) as runner:
            assert count_int8_linears(runner.model) == 0
            assert runner.encoder_dtype == runner.dtype and not runner.encoder_autocast
    finally:
        plain.close()


@slow
def test_our_decoder_step_matches_transformers_forward(manager, librivox) -> None:
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    with manager.use(FAST) as runner, torch.inference_mode():
        features = runner.feature_extractor(
            [librivox[0][1], librivox[1][1]], sampling_rate=16_000, return_tensors="pt"
        ).input_features.to(runner.device, runner.encoder_dtype)
        encoded = runner.model.model.encoder(features).last_hidden_state.to(runner.dtype)
        decoder = runner.model.model.decoder
        step = WhisperDecoderStep(decoder)
        ours = step.new_cache(encoded)
        theirs = EncoderDecoderCache(DynamicCache(), DynamicCache())
        # A three-token prompt (causal within it), then single tokens, then one row leaves.
        for ids in ([[50257, 50362, 50363], [50257, 50362, 50363]], [[440], [314]], [[1332], [11]]):
            ids = torch.tensor(ids, device=runner.device)
            expected = decoder(
                input_ids=ids, encoder_hidden_states=encoded, cache=theirs, use_cache=True
            ).last_hidden_state[:, -1]
            assert torch.allclose(step(ids, ours), expected, atol=1e-3, rtol=1e-3)
        keep = torch.tensor([1], device=runner.device)
        ours.select(keep)
        theirs.batch_select_indices(keep)
        ids = torch.tensor([[262]], device=runner.device)
        expected = decoder(
            input_ids=ids,
            encoder_hidden_states=encoded.index_select(0, keep),
            cache=theirs,
            use_cache=True,
        ).last_hidden_state[:, -1]
        assert torch.allclose(step(ids, ours), expected, atol=1e-3, rtol=1e-3)


@slow
def test_a_batch_decodes_each_row_as_it_would_alone(manager, librivox) -> None:
    handle = manager.handle(FAST)
    requests = [TranscriptionRequest(audio) for _, audio in librivox]

    together = handle.call(requests)
    alone = [handle.call([r])[0] for r in requests]

    for ref, a, b in zip([r for r, _ in librivox], together, alone, strict=True):
        assert isinstance(a, TranscriptionResult) and isinstance(b, TranscriptionResult)
        # Batched matmuls round differently (more so with the bfloat16 encoder); allow
        # one word of drift, no more ("cold-hearted" vs "coldhearted" counts as two).
        assert word_error_rate([b.text], [a.text]) <= 0.15, (a.text, b.text)
        assert word_error_rate([ref], [a.text]) <= 0.3, (ref, a.text)


@slow
def test_rows_of_one_batch_keep_their_own_language_and_task(manager, librivox) -> None:
    ref, audio = librivox[0]
    results = manager.handle(DEFAULT).call(
        [
            TranscriptionRequest(audio, language="en"),
            TranscriptionRequest(audio, language="de", task="translate"),
            TranscriptionRequest(audio, timestamps=False),
        ]
    )

    english, translated, plain = results
    assert english.language == "en" and word_error_rate([ref], [english.text]) <= 0.2
    assert translated.language == "de" and translated.text  # German asked for, English out
    assert plain.language == "en" and plain.segments == []
    assert word_error_rate([ref], [plain.text]) <= 0.2


@slow
def test_concurrent_callers_share_batches(settings, librivox) -> None:
    mgr = ModelManager(settings)  # own metrics, not shared with other tests
    try:
        handle = mgr.handle(FAST)
        handle.call([TranscriptionRequest(librivox[0][1][:16_000])])  # load outside the timing

        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda clip: handle.call([TranscriptionRequest(clip[1])])[0], librivox * 2)
            )

        assert all(isinstance(r, TranscriptionResult) and r.text for r in results)
        metrics = next(m for m in mgr.report()["metrics"] if m["model"] == FAST)
        assert metrics["max_batch"] > 1, metrics
    finally:
        mgr.close()


def test_settings_accept_the_quantize_choices() -> None:
    assert Settings().quantize == "auto"
    assert Settings(quantize="none").quantize == "none"
    with pytest.raises(ValueError):
        Settings(quantize="int4")
