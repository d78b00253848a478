"""Prefix KV cache: the bookkeeping on small tensors, and on the real models that
greedy decoding gives the same text with and without it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from shared_models import text_generation as tg
from shared_models.text_generation_cache import MIN_REUSE_TOKENS, PrefixCache

SYSTEM = (
    "You are the helpful assistant of a small bakery. Answer in one or two short sentences, "
    "politely, and only about the bakery: its bread, cakes, opening hours and prices."
)


def fake_kv(n: int) -> torch.Tensor:
    """[layers, 2, kv_heads, positions, head_dim] with position i holding the value i."""
    return torch.arange(n, dtype=torch.float32).view(1, 1, 1, n, 1).expand(2, 2, 1, n, 4).clone()


def test_lookup_finds_the_longest_common_prefix_and_leaves_one_token():
    cache = PrefixCache(max_bytes=2**20)
    cache.store(list(range(20)), fake_kv(20))
    match = cache.lookup([*range(12), 99, 98])
    assert match is not None and match.length == 12
    assert torch.equal(match.kv[0, 0, 0, :12, 0], torch.arange(12.0))
    again = cache.lookup(list(range(20)))  # the same prompt: its last token is computed again
    assert again is not None and again.length == 19
    assert cache.lookup([*range(MIN_REUSE_TOKENS - 1), 99, 98]) is None  # too short to be worth it
    assert cache.lookup([5, 6, 7]) is None
    assert cache.hits == 2 and cache.misses == 2


def test_store_is_bounded_and_drops_what_a_longer_prompt_covers():
    one = fake_kv(10).numel() * 4
    cache = PrefixCache(max_bytes=3 * one)
    cache.store(list(range(10)), fake_kv(10))
    cache.store(list(range(12)), fake_kv(12))  # extends the first: replaces it
    assert len(cache) == 1
    cache.store(list(range(8)), fake_kv(8))  # already covered: nothing new
    assert len(cache) == 1
    for start in (100, 200, 300):
        cache.store(list(range(start, start + 10)), fake_kv(10))
    assert cache.size_bytes <= cache.max_bytes
    assert cache.lookup(list(range(12))) is None  # the least recently used went first
    assert cache.lookup([*range(300, 310), 1]) is not None
    cache.store(list(range(1000, 1100)), fake_kv(100))  # larger than the whole budget: skipped
    assert cache.lookup([*range(1000, 1100), 1]) is None
    assert PrefixCache(0).lookup(list(range(20))) is None


@contextmanager
def prefix_cache(runner: tg.TextGenerator, max_bytes: int) -> Iterator[PrefixCache]:
    """Give the shared runner a fresh cache for one test, then put its own back."""
    own = runner.prefix_cache
    runner.prefix_cache = PrefixCache(max_bytes)
    try:
        yield runner.prefix_cache
    finally:
        runner.prefix_cache = own


def bakery(question: str, max_new_tokens: int = 24) -> tg.GenerationRequest:
    return tg.GenerationRequest(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        temperature=0.0,
        max_new_tokens=max_new_tokens,
    )


def test_cached_prefixes_decode_like_a_full_prefill_in_mixed_batches(manager):
    questions = [
        "When do you open on Sunday?",
        "Do you sell rye bread?",
        "How much is a croissant?",
    ]
    other = tg.GenerationRequest(
        prompt="Once upon a time, in a quiet village,", temperature=0.0, max_new_tokens=16
    )
    with manager.use(tg.TINY) as runner:
        with prefix_cache(runner, 0):
            plain = [r.text for r in runner([bakery(q) for q in questions] + [other])]
        with prefix_cache(runner, 2**26) as cache:
            first = runner([bakery(questions[0])])[0].text  # fills the cache
            # A batch mixing a cached system prompt (two rows), a prompt seen whole
            # before and a row with nothing cached, each with its own prefix length.
            mixed = [r.text for r in runner([other] + [bakery(q) for q in questions])]
            assert cache.hits == 3 and cache.reused_tokens > 3 * 30
    assert first == plain[0]
    assert mixed == [plain[3], *plain[:3]]


@pytest.mark.slow
def test_qwen_greedy_output_is_the_same_with_the_prefix_cache(manager):
    from apps.customer_service.phrasing import build_request

    entries = [
        (
            "How do I freeze my card?",
            "Open Card > Freeze card in the app. Unfreeze it the same way.",
        ),
        (
            "What is the fee for paying abroad?",
            "Card payments abroad cost 1.5% of the amount, at least EUR 0.50.",
        ),
        (
            "How long does a transfer take?",
            "Transfers within the EU arrive within one business day.",
        ),
    ]
    requests = [build_request("Kestrel Money", f"hey, {q.lower()}", q, a) for q, a in entries]
    for r in requests:
        r.max_new_tokens = 32
    with manager.use(tg.DEFAULT) as runner:
        with prefix_cache(runner, 0):
            plain = [runner([r])[0] for r in requests]
        with prefix_cache(runner, 2**26) as cache:
            cached = [runner([r])[0] for r in requests]
            assert cache.hits == 2 and cache.reused_tokens >= 2 * 100  # the system prompt, at least
    assert [c.text for c in cached] == [p.text for p in plain]
    assert all(p.new_tokens > 5 for p in plain)
