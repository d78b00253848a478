"""Presence/frequency penalties and per-token logprobs in the decoder, on the real SmolLM2-135M."""

from __future__ import annotations

import math

import pytest

from core.errors import InvalidInputError
from shared_models.types.generation import (
    TINY_MODEL,
    GenerationRequest,
    GenerationResult,
    TextPiece,
)

# A prompt the tiny model answers by repeating itself when left greedy.
REPEATS = "Write the word 'apple' twenty times, separated by spaces."


def chat(text: str, **kwargs) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": text}], **kwargs)


@pytest.fixture(scope="module")
def tiny(manager):
    return manager.handle(TINY_MODEL)


def test_logprobs_cover_every_new_token_and_agree_with_the_text(tiny):
    result = tiny.call(
        [
            chat(
                "Name three colours.",
                temperature=0,
                max_new_tokens=12,
                logprobs=True,
                top_logprobs=3,
            )
        ]
    )[0]
    lps = result.token_logprobs
    assert lps is not None and len(lps) == result.new_tokens > 0
    assert "".join(lp.token for lp in lps).startswith(result.text[:5])
    for lp in lps:
        assert lp.logprob <= 0 and math.isfinite(lp.logprob)
        assert len(lp.top) == 3
        values = [v for _, v in lp.top]
        assert values == sorted(values, reverse=True)
        # Greedy: the chosen token is the most likely one.
        assert lp.top[0][0] == lp.token and lp.top[0][1] == pytest.approx(lp.logprob, abs=1e-5)


def test_no_logprobs_unless_asked(tiny):
    result = tiny.call([chat("Hi", temperature=0, max_new_tokens=4)])[0]
    assert result.token_logprobs is None


def test_streamed_pieces_carry_the_same_logprobs_as_the_result(tiny):
    request = chat("Name three colours.", temperature=0, max_new_tokens=12, logprobs=True)
    events = list(tiny.stream(request))
    pieces, result = events[:-1], events[-1]
    assert isinstance(result, GenerationResult) and all(isinstance(p, TextPiece) for p in pieces)
    streamed = [lp for p in pieces for lp in (p.logprobs or ())]
    assert streamed == list(result.token_logprobs[: len(streamed)])
    assert len(streamed) >= len(result.token_logprobs) - 2  # at most a held-back tail


def test_frequency_penalty_breaks_repetition(tiny):
    plain = tiny.call([chat(REPEATS, temperature=0, max_new_tokens=40)])[0]
    penalised = tiny.call([chat(REPEATS, temperature=0, max_new_tokens=40, frequency_penalty=2.0)])[
        0
    ]
    assert plain.text.lower().count("apple") > penalised.text.lower().count("apple")


def test_presence_penalty_changes_greedy_output_and_zero_changes_nothing(tiny):
    plain = tiny.call([chat(REPEATS, temperature=0, max_new_tokens=30)])[0]
    zero = tiny.call([chat(REPEATS, temperature=0, max_new_tokens=30, presence_penalty=0.0)])[0]
    present = tiny.call([chat(REPEATS, temperature=0, max_new_tokens=30, presence_penalty=2.0)])[0]
    assert zero.text == plain.text
    assert present.text != plain.text


def test_penalised_and_plain_rows_share_a_batch(tiny):
    plain = chat(REPEATS, temperature=0, max_new_tokens=30)
    alone = tiny.call([plain])[0]
    together = tiny.call(
        [
            chat(REPEATS, temperature=0, max_new_tokens=30),
            chat(REPEATS, temperature=0, max_new_tokens=30, frequency_penalty=2.0),
        ]
    )
    assert together[0].text == alone.text
    assert together[1].text != alone.text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"frequency_penalty": -3}, "frequency_penalty"),
        ({"frequency_penalty": float("nan")}, "frequency_penalty"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"top_logprobs": 2}, "needs logprobs"),
        ({"logprobs": "yes"}, "logprobs"),
    ],
)
def test_bad_penalty_and_logprob_settings_are_refused(tiny, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        tiny.call([chat("Hi", max_new_tokens=2, **kwargs)])
