"""Text generation role: real SmolLM2-135M for most checks, one real Qwen2.5-Coder run.

Both models come from their weight packages, converted once from GGUF and cached.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import InvalidInputError, OfflineModelError
from core.registry import REGISTRY, LoadContext
from shared_models import text_generation as tg
from shared_models.gguf_cache import MARKER

FLUENT = (
    "The museum opens at nine in the morning and closes at six in the evening. "
    "Visitors can buy tickets at the entrance or online, and children under twelve "
    "enter for free. On the first Sunday of every month, admission is free for everyone."
)


def chat(text: str, **kwargs) -> tg.GenerationRequest:
    return tg.GenerationRequest(messages=[{"role": "user", "content": text}], **kwargs)


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


def test_stream_pieces_add_up_to_the_result(tiny):
    request = chat("Write two sentences about the sea.", seed=3, max_new_tokens=24)
    pieces = list(tiny.stream(request))
    result = tiny.call([request])[0]
    assert len(pieces) >= 5
    assert "".join(pieces) == result.text
    # on_text given directly gets the same pieces.
    seen: list[str] = []
    direct = tiny.call([chat("Write two sentences about the sea.", seed=3, max_new_tokens=24, on_text=seen.append)])
    assert "".join(seen) == direct[0].text == result.text


def test_stop_sequence_cuts_the_output_before_the_stop(tiny):
    prompt = "1, 2, 3, 4, 5,"
    full = tiny.call([tg.GenerationRequest(prompt=prompt, temperature=0.0, max_new_tokens=16)])[0]
    assert " 8," in full.text  # the model counts on; otherwise this test proves nothing
    pieces: list[str] = []
    cut = tiny.call(
        [tg.GenerationRequest(prompt=prompt, temperature=0.0, max_new_tokens=16, stop=(" 8,", "zzz"), on_text=pieces.append)]
    )[0]
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
        return "".join(tiny.stream(request))

    with ThreadPoolExecutor(len(requests)) as pool:
        streamed = list(pool.map(stream, requests))
    # Also force one batch: a padded batch must decode like each prompt alone.
    batched = [r.text for r in tiny.call(requests)]
    for own, got, in_batch in zip(alone, streamed, batched, strict=True):
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


def test_a_cancel_event_ends_the_request_early(tiny):
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()

    result = tiny.call(
        [chat("Tell me a long story about a dragon.", seed=1, max_new_tokens=200, on_text=on_text, cancel=cancel)]
    )[0]
    assert result.finish_reason == "cancelled"
    assert result.new_tokens < 10
    assert result.text == "".join(pieces)


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
    pieces = list(qwen.stream(request))
    assert first.text.strip() and first.prompt_tokens > 10
    assert "".join(pieces) == first.text  # same seed: the stream repeats the call exactly
    assert len(pieces) >= 5
    assert not any("\ufffd" in p for p in pieces)  # multi-byte characters never split
    assert any("\u4e00" <= ch <= "\u9fff" for ch in first.text)  # it answered in Chinese
