"""Text generation role: real SmolLM2-135M for most checks, one real Qwen2.5-Coder run.

Both models come from their weight packages, converted once from GGUF and cached.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import InvalidInputError, OfflineModelError
from core.registry import REGISTRY, LoadContext
from shared_models import text_generation as tg
from shared_models.gguf_cache import MARKER
from shared_models.types.generation import (
    ChatTemplateRequest,
    DetokenizeRequest,
    ModelInfoRequest,
    TextPiece,
    TokenizeRequest,
)

FLUENT = (
    "The museum opens at nine in the morning and closes at six in the evening. "
    "Visitors can buy tickets at the entrance or online, and children under twelve "
    "enter for free. On the first Sunday of every month, admission is free for everyone."
)


def chat(text: str, **kwargs) -> tg.GenerationRequest:
    return tg.GenerationRequest(messages=[{"role": "user", "content": text}], **kwargs)


def streamed(stream) -> tuple[list[str], tg.GenerationResult]:
    """The text pieces of a stream and its final event, checking the event order."""
    *pieces, final = list(stream)
    assert all(isinstance(p, TextPiece) for p in pieces), pieces
    assert isinstance(final, tg.GenerationResult), final
    return [p.text for p in pieces], final


@pytest.fixture(scope="session")
def tiny(manager):
    return manager.handle(tg.TINY)


def test_seeded_sampling_repeats_and_other_seeds_differ(tiny):
    request = chat("Suggest a name for a coffee shop.", temperature=1.0, seed=7, max_new_tokens=16)
    first = tiny.call([request])[0]
    again = tiny.call([request])[0]
    assert first.text.strip() and first.new_tokens > 0
    assert first.text == again.text
    others = {
        r.text
        for r in tiny.call(
            [chat("Suggest a name for a coffee shop.", temperature=1.0, seed=s, max_new_tokens=16) for s in range(4)]
        )
    }
    # Four seeds at temperature 1.0 giving one identical text would mean the seed is ignored.
    assert len(others | {first.text}) >= 2


def test_greedy_is_deterministic_and_stops_at_end_of_turn(tiny):
    request = chat("What is the capital of France?", temperature=0.0, max_new_tokens=40)
    a, b = tiny.call([request]), tiny.call([request])
    assert a[0].text == b[0].text
    assert "Paris" in a[0].text
    assert a[0].finish_reason == "eos" and "<|im_end|>" not in a[0].text


def test_stream_pieces_add_up_to_the_final_result(tiny):
    request = chat("Write two sentences about the sea.", seed=3, max_new_tokens=24)
    pieces, final = streamed(tiny.stream(request))
    result = tiny.call([request])[0]
    assert len(pieces) >= 5
    assert "".join(pieces) == final.text == result.text
    assert final.new_tokens == result.new_tokens and final.finish_reason == result.finish_reason


def test_requests_and_events_cross_a_process_boundary(tiny):
    """What a Ray replica would receive and send back: pickled, unchanged."""
    request = chat("Name a colour.", temperature=0.0, max_new_tokens=8)
    assert pickle.loads(pickle.dumps(request)) == request
    events = list(tiny.stream(request))
    assert pickle.loads(pickle.dumps(events)) == events


def test_async_stream_gives_the_same_events(tiny):
    request = chat("Name a fruit.", temperature=0.0, max_new_tokens=12)

    async def collect() -> list:
        return [event async for event in tiny.astream(request)]

    assert asyncio.run(collect()) == list(tiny.stream(request))


def test_stop_sequence_cuts_the_output_before_the_stop(tiny):
    prompt = "1, 2, 3, 4, 5,"
    full = tiny.call([tg.GenerationRequest(prompt=prompt, temperature=0.0, max_new_tokens=16)])[0]
    assert " 8," in full.text  # the model counts on; otherwise this test proves nothing
    pieces, cut = streamed(
        tiny.stream(tg.GenerationRequest(prompt=prompt, temperature=0.0, max_new_tokens=16, stop=(" 8,", "zzz")))
    )
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index(" 8,")]
    assert "".join(pieces) == cut.text  # the held-back " 8" was never streamed


def test_concurrent_streams_each_get_their_own_text(tiny):
    questions = [
        "What colour is the sky on a clear day?",
        "Name a fruit that is yellow.",
        "How many legs does a spider have?",
        "Say hello in French.",
    ]
    requests = [chat(q, temperature=0.0, max_new_tokens=20) for q in questions]
    alone = [tiny.call([r])[0].text for r in requests]
    assert len(set(alone)) == len(alone)
    barrier = threading.Barrier(len(requests))

    def stream(request: tg.GenerationRequest) -> str:
        barrier.wait()  # start together so the batcher can put them in one batch
        return "".join(streamed(tiny.stream(request))[0])

    with ThreadPoolExecutor(len(requests)) as pool:
        streams = list(pool.map(stream, requests))
    # Also force one batch: a padded batch must decode like each prompt alone.
    batched = [r.text for r in tiny.call(requests)]
    for own, got, in_batch in zip(alone, streams, batched, strict=True):
        # Greedy is exact here; the float sums of a padded batch can in principle flip
        # a late near-tie, so we hold the opening words to exact equality.
        assert got[:40] == own[:40]
        assert in_batch[:40] == own[:40]


def test_a_long_row_finishing_first_leaves_the_others_unchanged(tiny):
    # The long prompt pads the short one by ~200 columns; when it finishes after one
    # token the padding is cut from the KV cache, which must not change the short row.
    short = tg.GenerationRequest(prompt="Once upon a time", temperature=0.0, max_new_tokens=16)
    long = tg.GenerationRequest(prompt="The history of the old city " * 40, temperature=0.0, max_new_tokens=1)
    alone = tiny.call([short])[0]
    first, second = tiny.call([long, short])
    assert first.new_tokens == 1 and first.finish_reason == "length"
    assert second.text == alone.text and second.new_tokens == 16


def test_cancel_by_request_id_ends_the_request_early(tiny):
    stream = tiny.stream(chat("Tell me a long story about a dragon.", seed=1, max_new_tokens=200))
    pieces: list[str] = []
    result = None
    for event in stream:
        if isinstance(event, TextPiece):
            pieces.append(event.text)
            if len(pieces) == 3:
                assert tiny.cancel(stream.request_id)
        else:
            result = event
    assert result is not None and result.finish_reason == "cancelled"
    assert result.new_tokens < 10
    assert result.text == "".join(pieces)
    assert not tiny.cancel(stream.request_id), "a finished request is no longer cancellable"


def test_closing_a_stream_early_cancels_it(tiny):
    stream = tiny.stream(chat("Tell me a long story about a knight.", seed=2, max_new_tokens=200))
    assert isinstance(next(stream), TextPiece)
    stream.close()  # the consumer walks away
    result = stream.result(timeout=120)
    assert result.finish_reason == "cancelled" and result.new_tokens < 200


def test_one_request_id_streams_once_at_a_time(tiny):
    request = chat("Tell me a long story about a ship.", seed=4, max_new_tokens=200)
    with tiny.stream(request) as first:
        next(first)
        with pytest.raises(InvalidInputError, match="already streaming"):
            tiny.stream(request)
    assert first.result(timeout=120).finish_reason == "cancelled"  # leaving `with` cancels


def test_tokenizer_requests_are_answered_beside_a_running_generation(tiny):
    messages = [{"role": "user", "content": "Hello there"}]
    info, rendered, ids = tiny.call(
        [ModelInfoRequest(), ChatTemplateRequest(messages), TokenizeRequest(messages=messages)]
    )
    assert info.context_tokens == tg.CONTEXT_TOKENS[tg.TINY] and info.has_chat_template
    assert 0 < info.max_new_tokens <= info.context_tokens // 2
    assert "Hello there" in rendered and rendered.rstrip().endswith("assistant")
    assert ids == tiny.call([TokenizeRequest(text=rendered)])[0]
    text_ids = tiny.call([TokenizeRequest(text="Once upon a time")])[0]
    assert tiny.call([DetokenizeRequest(text_ids)]) == ["Once upon a time"]
    # A long generation holds the decode loop; counting tokens must not wait for it.
    with tiny.stream(chat("Tell me a long story about a castle.", seed=5, max_new_tokens=200)) as story:
        next(story)
        assert tiny.call([TokenizeRequest(text="hello")])[0]
        assert not story.done
    with pytest.raises(InvalidInputError, match="exactly one"):
        tiny.call([TokenizeRequest()])
    with pytest.raises(InvalidInputError, match="token ids"):
        tiny.call([DetokenizeRequest(["a"])])


@pytest.mark.parametrize(
    "request_, message",
    [
        (tg.GenerationRequest(), "exactly one"),
        (tg.GenerationRequest(prompt="hi", messages=[{"role": "user", "content": "hi"}]), "exactly one"),
        (tg.GenerationRequest(prompt="   "), "non-empty"),
        (tg.GenerationRequest(messages=[]), "non-empty list"),
        (chat("   "), "empty"),
        (tg.GenerationRequest(messages=[{"role": "user", "content": ["not", "text"]}]), "string"),
        (tg.GenerationRequest(prompt="hi", temperature=-0.1), "temperature"),
        (tg.GenerationRequest(prompt="hi", temperature=float("nan")), "temperature"),
        (tg.GenerationRequest(prompt="hi", top_p=0.0), "top_p"),
        (tg.GenerationRequest(prompt="hi", top_p=1.5), "top_p"),
        (tg.GenerationRequest(prompt="hi", top_k=-1), "top_k"),
        (tg.GenerationRequest(prompt="hi", max_new_tokens=0), "max_new_tokens"),
        (tg.GenerationRequest(prompt="hi", max_new_tokens=100_000), "max_new_tokens"),
        (tg.GenerationRequest(prompt="hi", repetition_penalty=0.0), "repetition_penalty"),
        (tg.GenerationRequest(prompt="hi", stop=("",)), "stop"),
        (tg.GenerationRequest(prompt="hi", stop=None), "stop"),
        (tg.PerplexityRequest(""), "non-empty"),
        (tg.PerplexityRequest("hi", context=3), "context"),
        (tg.PerplexityRequest("word " * 2000, context="Q:"), "after a context"),
    ],
)
def test_bad_requests_raise_for_their_caller(tiny, request_, message):
    with pytest.raises(InvalidInputError, match=message):
        tiny.call([request_])


def test_a_bad_row_does_not_spoil_its_batch(manager):
    good = tg.GenerationRequest(prompt="The sun rises in the", temperature=0.0, max_new_tokens=4)
    with manager.use(tg.TINY) as runner:
        out = runner([good, tg.GenerationRequest(prompt="x", top_k=-5), "not a request"])
    assert isinstance(out[0], tg.GenerationResult) and out[0].new_tokens == 4
    assert isinstance(out[1], InvalidInputError) and isinstance(out[2], InvalidInputError)


def test_an_over_long_prompt_keeps_its_end_and_says_so(tiny):
    budget = tg.CONTEXT_TOKENS[tg.TINY] - 4
    long = tiny.call(
        [tg.GenerationRequest(prompt="apple banana " * 3000 + "cherry", temperature=0.0, max_new_tokens=4)]
    )[0]
    short = tiny.call([tg.GenerationRequest(prompt="apple banana", temperature=0.0, max_new_tokens=4)])[0]
    assert long.prompt_truncated and long.prompt_tokens == budget
    assert not short.prompt_truncated and short.prompt_tokens < 10


def test_perplexity_prefers_fluent_text_and_slides_over_long_text(tiny):
    words = FLUENT.split()
    random.Random(0).shuffle(words)
    long_text = " ".join([FLUENT] * 30)  # > one 1024-token window, so it slides
    fluent, shuffled, long_ppl, answer = tiny.call(
        [
            tg.PerplexityRequest(FLUENT),
            tg.PerplexityRequest(" ".join(words)),
            tg.PerplexityRequest(long_text),
            chat("Hi", temperature=0.0, max_new_tokens=4),  # mixed into the same batch
        ]
    )
    assert 1.0 < fluent < 100
    assert shuffled > 5 * fluent
    # Repeated text is easy to predict once the model has seen it: lower than one copy.
    assert 1.0 < long_ppl < fluent
    assert isinstance(answer, tg.GenerationResult)


def test_perplexity_after_a_context_scores_only_the_text(tiny):
    question = " How long does a refund take to reach my card?"
    refund = "Refunds reach your card within 5 working days of the return arriving. Customer question:"
    plants = "Water ferns twice a week and keep them out of direct sun. Customer question:"
    filler = "Our shop opened in 2019 and sells many things. " * 400  # > the window: cut from the left
    alone, after_refund, after_plants, long_refund, long_plants = tiny.call(
        [
            tg.PerplexityRequest(question),
            tg.PerplexityRequest(question, context=refund),
            tg.PerplexityRequest(question, context=plants),
            tg.PerplexityRequest(question, context=filler + refund),
            tg.PerplexityRequest(question, context=filler + plants),
        ]
    )
    # The entry that answers the question explains it better than an unrelated one does,
    # and better than no context; an over-long context keeps its end, where the entry is.
    assert after_refund < after_plants
    assert after_refund < alone
    assert 1.0 < long_refund < long_plants


def test_conversion_cache_is_complete(settings, manager):
    manager.load(tg.TINY)
    folder = settings.model_cache_dir / tg.TINY
    marker = json.loads((folder / MARKER).read_text())
    assert marker["source_sha256"] == tg.SMOLLM2_GGUF.sha256
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert not list(folder.glob("*.gguf"))
    assert not list(settings.model_cache_dir.glob(f".{tg.TINY}.tmp-*"))


def test_external_sources_local_folder_and_offline_hub(settings, manager):
    manager.load(tg.TINY)  # makes sure the converted folder exists
    spec = REGISTRY.external(tg.ROLE, f"local:{settings.model_cache_dir / tg.TINY}")
    assert spec.streams
    runner = spec.load(LoadContext(settings, manager.policy, settings.model_cache_dir, source=spec.source))
    try:
        out = runner([tg.GenerationRequest(prompt="1, 2, 3,", temperature=0.0, max_new_tokens=3)])[0]
        assert out.text.startswith(" 4")
    finally:
        runner.close()
    hub = REGISTRY.external(tg.ROLE, "hub:nobody/not-a-cached-model")
    with pytest.raises(OfflineModelError, match=tg.DEFAULT):
        hub.load(LoadContext(settings, manager.policy, settings.model_cache_dir, source=hub.source))


@pytest.mark.slow
def test_default_qwen_chat_is_seeded_and_streams(manager):
    qwen = manager.handle("generation")
    assert qwen.name == tg.DEFAULT
    request = chat("用一句话介绍一下大海。", seed=11, temperature=0.7, max_new_tokens=24)
    first = qwen.call([request])[0]
    pieces, final = streamed(qwen.stream(request))
    assert final == first
    assert first.text.strip() and first.prompt_tokens > 10
    assert "".join(pieces) == first.text  # same seed: the stream repeats the call exactly
    assert len(pieces) >= 5
    assert not any("\ufffd" in p for p in pieces)  # multi-byte characters never split
    assert any("\u4e00" <= ch <= "\u9fff" for ch in first.text)  # it answered in Chinese
