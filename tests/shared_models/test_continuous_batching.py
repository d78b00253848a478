"""Continuous batching: requests join a running batch between steps and leave it at once.

Real SmolLM2-135M throughout. Where a test needs other bounds than the defaults
(a tiny waiting queue, a small KV budget, short prefill chunks) it builds a second
runner around the same loaded model, driven directly.
"""

from __future__ import annotations

import threading

import pytest

from core.errors import InvalidInputError, OverloadedError
from core.streaming import StreamChannel
from shared_models import text_generation as tg
from shared_models.text_generation_decoding import TextGenerator
from shared_models.text_generation_scheduler import DecodeLimits
from shared_models.types.generation import ModelInfoRequest, TextPiece, TokenizeRequest


def chat(text: str, **kwargs) -> tg.GenerationRequest:
    return tg.GenerationRequest(messages=[{"role": "user", "content": text}], **kwargs)


@pytest.fixture(scope="module")
def tiny(manager):
    return manager.handle(tg.TINY)


@pytest.fixture(scope="module")
def loaded(manager, tiny) -> TextGenerator:
    """The loaded runner (for its model and its scheduler's counters)."""
    tiny.call([ModelInfoRequest()])
    with manager.use(tg.TINY) as runner:
        return runner


def other_runner(loaded: TextGenerator, limits: DecodeLimits | None) -> TextGenerator:
    """A second runner on the same weights with its own bounds (the first stays idle meanwhile)."""
    return TextGenerator(
        loaded.model, loaded.tokenizer, loaded.context_tokens, loaded.max_new_tokens, decode_limits=limits
    )


def test_the_default_runner_batches_continuously(manager, loaded, tiny):
    assert loaded.scheduler is not None
    assert manager.settings.decoding.continuous
    before = loaded.scheduler.steps
    tiny.call([chat("Say hi.", temperature=0.0, max_new_tokens=4)])
    assert loaded.scheduler.steps > before


def test_a_request_that_arrives_mid_batch_joins_it_and_finishes_first(loaded, tiny):
    long = chat("Tell me a long story about a lighthouse keeper.", temperature=0.0, max_new_tokens=120)
    short = chat("Name a fruit that is yellow.", temperature=0.0, max_new_tokens=8)
    alone = tiny.call([short])[0]
    joined_before = loaded.scheduler.joined_mid_batch
    with tiny.stream(long) as stream:
        first = next(stream)  # the long request is decoding now
        assert isinstance(first, TextPiece)
        result = tiny.call([short])[0]
        # The short request did not wait for the long one's 120 tokens.
        assert not stream.done
        assert loaded.scheduler.joined_mid_batch > joined_before
        rest = list(stream)
    assert result.text == alone.text and result.new_tokens == alone.new_tokens
    assert rest[-1].finish_reason == "length" and rest[-1].new_tokens == 120


def test_greedy_and_seeded_outputs_do_not_depend_on_when_a_request_joined(tiny):
    requests = [
        chat("What colour is the sky on a clear day?", temperature=0.0, max_new_tokens=24),
        chat("Suggest a name for a bakery.", temperature=0.9, seed=11, max_new_tokens=24),
        chat("How many legs does a spider have?", temperature=0.0, max_new_tokens=24, repetition_penalty=1.3),
    ]
    alone = [tiny.call([r])[0].text for r in requests]
    background = chat("Write a long poem about the sea.", temperature=0.0, max_new_tokens=150)
    with tiny.stream(background) as stream:
        next(stream)
        got = []
        for r in requests:  # one after another, each joining the running batch
            got.append(tiny.call([r])[0].text)
            next(stream)  # let the background row take another step between joins
    for own, joined in zip(alone, got, strict=True):
        # Greedy is exact here; padded float sums could in principle flip a late near-tie,
        # so the opening words must match exactly (as for static batches).
        assert joined[:40] == own[:40]


def test_a_long_prompt_is_prefilled_in_chunks_without_changing_its_answer(loaded):
    chunked = other_runner(loaded, DecodeLimits(prefill_chunk=16))
    whole = other_runner(loaded, None)  # static batching, one prefill pass
    prompt = "The history of the old harbour town, its ships and its people. " * 12
    request = tg.GenerationRequest(prompt=prompt, temperature=0.0, max_new_tokens=12)
    assert len(chunked([TokenizeRequest(text=prompt)])[0]) > 100  # several chunks
    try:
        assert chunked([request])[0].text == whole([request])[0].text
    finally:
        chunked.close()


def test_bounds_refuse_clearly_beyond_the_waiting_queue_and_the_kv_budget(loaded):
    per_token = loaded.kv_bytes_per_token
    runner = other_runner(
        loaded, DecodeLimits(max_active=1, max_waiting=1, kv_cache_bytes=per_token * 400, prefill_chunk=64)
    )
    try:
        too_big = tg.GenerationRequest(prompt="word " * 390, temperature=0.0, max_new_tokens=64)
        [error] = runner([too_big])
        assert isinstance(error, InvalidInputError) and "KV cache" in str(error)

        # One decodes, one waits; a third in the same moment is refused, not queued forever.
        channel = StreamChannel("long")
        results: list = []

        def long_running() -> None:
            results.extend(runner.run_streams([chat("Tell me a long story.", max_new_tokens=30)], [channel]))

        thread = threading.Thread(target=long_running)
        thread.start()
        channel.next_event(timeout=60)  # it is decoding
        # The first waits for the running one to finish (max_active=1); the second is refused.
        outs = runner([chat("Hi.", max_new_tokens=2), chat("Hello.", max_new_tokens=2)])
        thread.join(timeout=60)
        assert isinstance(outs[1], OverloadedError) and "max_waiting" in str(outs[1])
        assert isinstance(outs[0], tg.GenerationResult) and outs[0].new_tokens >= 1
        assert results[0].finish_reason in ("length", "eos")
        stats = runner.scheduler.stats()
        assert stats["waiting"] == 0 and stats["kv_reserved_mb"] == 0
        assert stats["refused"] == 1  # the 429; the too-big request is bad input, not a refusal
        assert (stats["max_active"], stats["max_waiting"]) == (1, 1)
    finally:
        runner.close()


def test_a_cancelled_waiting_request_leaves_without_decoding(loaded):
    runner = other_runner(loaded, DecodeLimits(max_active=1, max_waiting=4))
    try:
        busy, waiting = StreamChannel("busy"), StreamChannel("waiting")
        outs: dict[str, list] = {}

        def run(name: str, channel: StreamChannel, tokens: int) -> None:
            outs[name] = runner.run_streams([chat("Tell me a story.", max_new_tokens=tokens)], [channel])

        first = threading.Thread(target=run, args=("busy", busy, 40))
        first.start()
        busy.next_event(timeout=60)
        second = threading.Thread(target=run, args=("waiting", waiting, 40))
        second.start()
        waiting.cancel()
        second.join(timeout=60)
        busy.cancel()
        first.join(timeout=60)
        assert outs["waiting"][0].finish_reason == "cancelled"
        assert outs["waiting"][0].new_tokens == 0
    finally:
        runner.close()
