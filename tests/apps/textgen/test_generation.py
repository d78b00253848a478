"""Generation through the app with the real SmolLM2-135M: seeds, streams, stops, cuts, batches."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.textgen import GenerationOptions, PromptTruncatedWarning, StopSequenceNotFoundWarning
from core.errors import InvalidInputError

QUESTIONS = [
    "What colour is the sky on a clear day?",
    "Name a fruit that is yellow.",
    "Say hello in French.",
]


def test_a_seed_repeats_the_text_and_other_seeds_differ(gen):
    kwargs = dict(max_new_tokens=10, temperature=1.0)
    first = gen.generate("Write a tagline for a bike shop", seed=1, **kwargs)
    again = gen.generate("Write a tagline for a bike shop", seed=1, **kwargs)
    assert first.strip() and first == again
    # Three more seeds in one batch: one text for four seeds would mean the seed is ignored.
    others = gen.generate_batch(["Write a tagline for a bike shop"] * 3, seed=2, **kwargs)
    assert len(set(others) | {first}) >= 2


def test_stream_yields_pieces_that_add_up_to_the_result(gen):
    messages = [{"role": "user", "content": "Write two sentences about the sea."}]
    stream = gen.stream(messages, max_new_tokens=16, seed=3)
    pieces = list(stream)
    assert len(pieces) >= 5
    assert "".join(pieces) == stream.result.text == stream.text
    assert stream.result.new_tokens > 0 and stream.result.finish_reason in ("eos", "length")
    # The same seed without streaming gives the same text.
    assert gen.generate(messages, max_new_tokens=16, seed=3) == stream.result.text


def test_a_stop_sequence_ends_the_text_before_it(gen):
    full = gen.generate("1, 2, 3, 4, 5,", raw=True, max_new_tokens=16, temperature=0)
    assert " 8," in full  # the model counts on; otherwise the test proves nothing
    stream = gen.stream(
        "1, 2, 3, 4, 5,", raw=True, max_new_tokens=16, temperature=0, stop=[" 8,", "zzz"]
    )
    pieces = list(stream)
    assert stream.result.finish_reason == "stop"
    assert "".join(pieces) == full[: full.index(" 8,")]
    assert not any("stop sequences" in n for n in stream.notices)


def test_stop_sequences_never_hit_are_reported(gen):
    with pytest.warns(StopSequenceNotFoundWarning, match="None of the stop sequences"):
        text = gen.generate("1, 2, 3,", raw=True, max_new_tokens=6, temperature=0, stop=["@@@"])
    assert text.startswith(" 4")
    stream = gen.stream("1, 2, 3,", raw=True, max_new_tokens=6, temperature=0, stop=["@@@"])
    stream.consume()
    assert any("'@@@'" in n and "max new tokens" in n for n in stream.notices)


def test_concurrent_streams_each_get_their_own_text(gen):
    alone = [gen.generate(q, max_new_tokens=12, temperature=0) for q in QUESTIONS]
    assert len(set(alone)) == len(alone)
    barrier = threading.Barrier(len(QUESTIONS))

    def run(question: str) -> str:
        barrier.wait()  # start together so the core batches them
        return "".join(gen.stream(question, max_new_tokens=12, temperature=0))

    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        streamed = list(pool.map(run, QUESTIONS))
    batched = gen.generate_batch(QUESTIONS, max_new_tokens=12, temperature=0)
    for own, got, in_batch in zip(alone, streamed, batched, strict=True):
        # Padded batches can in principle flip a late near-tie; the openings must match exactly.
        assert got[:30] == own[:30]
        assert in_batch[:30] == own[:30]
    metrics = next(m for m in gen.manager.report()["metrics"] if m["model"] == gen.model)
    assert metrics["max_batch"] >= 2  # they really shared forward passes


def test_seeded_batch_rows_differ_but_repeat(gen):
    prompts = ["Invent a name for a bakery."] * 3
    first = gen.generate_batch(prompts, max_new_tokens=8, temperature=1.0, seed=5)
    assert first == gen.generate_batch(prompts, max_new_tokens=8, temperature=1.0, seed=5)
    assert len(set(first)) >= 2  # row i uses seed + i


def test_concurrent_cancels_end_only_their_own_streams(gen):
    prompts = [f"Tell me a long story about dragon number {i}." for i in range(4)]
    streams = [gen.stream(p, max_new_tokens=200, seed=i) for i, p in enumerate(prompts)]
    keep = gen.stream("Count from one to five.", max_new_tokens=12, temperature=0)
    for s in streams:  # wait until each is really generating
        next(s)
    barrier = threading.Barrier(8)

    def cancel(stream) -> None:
        barrier.wait()
        stream.cancel()
        stream.cancel()  # twice, from two threads at once: harmless

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(cancel, streams + streams))
    for s in streams:
        s.consume()
        assert s.result.finish_reason == "cancelled"
        assert s.result.new_tokens < 200
    assert keep.consume() and keep.result.finish_reason in ("eos", "length")
    streams[0].cancel()  # cancelling a finished stream is a no-op
    # The model keeps serving after the cancels.
    assert gen.generate("Say yes.", max_new_tokens=4, temperature=0)


def test_closing_a_stream_early_cancels_it(gen):
    stream = gen.stream("Tell me a long story about a castle.", max_new_tokens=200, seed=2)
    with stream:
        next(stream)
    assert stream.result.finish_reason == "cancelled"


def test_a_long_template_field_is_cut_with_a_visible_notice(gen):
    document = " ".join(f"Sentence {i} of the report says sales grew." for i in range(600))
    stream = gen.start_template(
        "summary", {"text": document}, GenerationOptions(max_new_tokens=1, temperature=0)
    )
    assert any("'Text to summarise' was" in n and "cut" in n for n in stream.notices)
    stream.consume()
    assert not stream.result.prompt_truncated  # fitted by the app: the role had nothing to cut
    assert stream.result.prompt_tokens <= gen.context_tokens - 1
    user = stream.request.messages[-1]["content"]
    assert user.startswith("Summarise the text below as three bullet points.")  # instructions kept
    assert "Sentence 0 of" in user and "Sentence 599 of" not in user
    assert stream.request.messages[0]["role"] == "system"


def test_a_long_chat_drops_its_oldest_turns_and_says_so(gen):
    history = []
    for i in range(60):
        history += [
            {"role": "user", "content": f"Question {i}: " + "tell me about rivers " * 10},
            {"role": "assistant", "content": f"Answer {i}: " + "rivers flow to the sea " * 10},
        ]
    stream = gen.chat(
        history,
        "What was my last question about?",
        GenerationOptions(max_new_tokens=8),
        system="Be brief.",
    )
    assert any("oldest message" in n for n in stream.notices)
    sent = stream.request.messages
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[1]["role"] == "user"  # still starts with the user after the cut
    assert sent[-1] == {"role": "user", "content": "What was my last question about?"}
    assert "Answer 59" in sent[-2]["content"]
    assert gen.count_tokens(sent) <= gen.context_tokens - 8
    stream.cancel()  # the fitting is what is tested; a 2k-token prefill adds nothing
    stream.consume()
    assert not stream.result.prompt_truncated


def test_an_over_long_raw_prompt_keeps_its_end_and_warns(gen):
    with pytest.warns(PromptTruncatedWarning, match="first .* tokens were dropped"):
        stream = gen.stream(
            "apple banana " * 3000 + "cherry", raw=True, max_new_tokens=4, temperature=0
        )
    stream.cancel()
    stream.consume()
    assert stream.request.prompt.endswith("cherry")
    assert gen.count_tokens(stream.request.prompt) <= gen.context_tokens - 4


def test_a_prompt_that_fits_gives_no_warning(gen):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gen.generate("Say hi.", max_new_tokens=4, temperature=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.generate(""), "empty"),
        (lambda g: g.generate("   \n"), "empty"),
        (lambda g: g.generate(None), "must be a chat|must be text|list"),
        (lambda g: g.generate("x" * 200_000), "limit is 100,000"),
        (lambda g: g.generate("bad\x00bytes"), "NUL"),
        (lambda g: g.generate([]), "empty"),
        (lambda g: g.generate([{"role": "robot", "content": "hi"}]), "role"),
        (lambda g: g.generate([{"role": "user", "content": 5}]), "content must be text"),
        (lambda g: g.generate([{"role": "assistant", "content": "hi"}]), "no user message"),
        (lambda g: g.generate("hi", temperature=-1), "Temperature"),
        (lambda g: g.generate("hi", top_p=1.5), "Top-p"),
        (
            lambda g: g.generate("hi", max_new_tokens=10_000),
            "Max new tokens must be between 1 and 1024",
        ),
        (lambda g: g.generate("hi", stop=[""]), "stop sequence"),
        (lambda g: g.generate("hi", raw=True, system="x"), "raw"),
        (lambda g: g.generate_batch([]), "at least one"),
        (lambda g: g.generate_batch("hi"), "must be a list"),
        (lambda g: g.generate_batch(["ok", ""]), "empty"),
        (lambda g: g.perplexity(""), "empty"),
        (lambda g: g.perplexity("a"), "two tokens"),
        (lambda g: g.start_template("summary", {"text": ""}), "Fill in"),
        (lambda g: g.start_template("summary", "text"), "dict"),
    ],
)
def test_bad_input_gets_a_clear_error(gen, call, message):
    with pytest.raises(InvalidInputError, match=message):
        call(gen)


def test_perplexity_prefers_fluent_text(gen):
    fluent = "The museum opens at nine in the morning and closes at six in the evening."
    scrambled = "evening museum the nine at six and morning opens The in closes the in at."
    a, b = gen.perplexity(fluent), gen.perplexity(scrambled)
    assert 1.0 < a < b / 3


def test_models_are_chosen_by_name(manager, textgen_db):
    from apps.textgen import TextGenerator

    assert (
        TextGenerator(manager=manager, db=textgen_db).model == "qwen2.5-coder-0.5b"
    )  # default, not loaded
    assert (
        "smollm2-135m"
        in TextGenerator("smollm2-135m", manager=manager, db=textgen_db).available_models()
    )
    with pytest.raises(InvalidInputError, match="not a text generation model"):
        TextGenerator("minilm-l6", manager=manager, db=textgen_db)
