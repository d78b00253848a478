"""What the page used to decide itself, now in the bot's API (real encoder)."""

from __future__ import annotations

import pytest

from apps.customer_service import ConflictError
from apps.customer_service.datasets import load_examples
from core.errors import InvalidInputError


def test_save_entry_adds_then_updates_with_a_version_check(fresh_bot):
    entry, added = fresh_bot.save_entry(
        "", "How do I freeze my card?", "Open the app and tap Freeze.", "cards", "lock my card | block card"
    )
    assert added and entry.version == 1 and entry.alternatives == ["lock my card", "block card"]
    again, added = fresh_bot.save_entry(
        f" {entry.id} ", "How do I freeze my card?", "Tap Card, then Freeze.", "cards",
        expected_version=entry.version,
    )
    assert not added and again.id == entry.id and again.version == 2
    assert fresh_bot.entry(entry.id).answer == "Tap Card, then Freeze."
    with pytest.raises(ConflictError):
        fresh_bot.save_entry(entry.id, "How do I freeze my card?", "stale", expected_version=1)
    with pytest.raises(InvalidInputError, match="No entry with id 'nope'"):
        fresh_bot.entry("nope")


def test_would_answer_is_the_threshold_the_bot_uses(bot):
    result = bot.search("my card never showed up", k=3)
    assert bot.would_answer(result.confidence) == (result.confidence >= bot.threshold)
    assert bot.would_answer(bot.threshold) and not bot.would_answer(bot.threshold - 1e-6)
    assert bot.ask("my card never showed up", session_id="t-would").escalated == (
        not bot.would_answer(result.confidence)
    )


def test_intent_scores_rank_the_likely_intents(bot):
    scores = bot.intent_scores("I still haven't received my card", top=3)
    assert len(scores) == 3 and list(scores.values()) == sorted(scores.values(), reverse=True)
    assert 0 < sum(scores.values()) <= 1.0 + 1e-6
    with pytest.raises(InvalidInputError, match="empty"):
        bot.intent_scores("   ")


def test_load_examples_by_name(tmp_path):
    assert len(load_examples("demo")) >= 10
    with pytest.raises(InvalidInputError, match="Upload a CSV"):
        load_examples("upload", None)
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("text,intent\ncaf\xe9,food\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        load_examples("upload", bad)
    with pytest.raises(InvalidInputError, match="Unknown example set"):
        load_examples("everything")
