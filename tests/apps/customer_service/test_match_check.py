"""The language model's check of a match, on the real shared model and the demo's entries."""

from __future__ import annotations

import pytest

from apps.customer_service.api import CHECK_BAND
from apps.customer_service.match_check import entry_context, log_likelihoods, margin
from apps.customer_service.ui import _why_markdown

# Close neighbours in the demo knowledge base: the first entry answers the question.
CASES = [
    ("it's been two weeks and still no card in the mail", ["card-not-arrived", "card-delivery", "card-lost"]),
    ("someone took my wallet with my card in it", ["card-lost", "card-not-arrived", "card-declined"]),
]


@pytest.mark.parametrize(("question", "ids"), CASES)
def test_the_entry_that_answers_makes_the_question_likeliest(bot, manager, question, ids) -> None:
    entries = {e.id: e for e in bot.entries()}
    handle = manager.handle("generation")
    right_first = log_likelihoods(handle, question, [entries[i] for i in ids], chinese=False)
    assert margin(right_first) > 0, right_first
    # Put a neighbour on top, as a wrong retrieval would: its margin is negative.
    swapped = log_likelihoods(handle, question, [entries[i] for i in (ids[1], ids[0], ids[2])], chinese=False)
    assert margin(swapped) < 0, swapped
    assert swapped[1] == pytest.approx(right_first[0], abs=1e-3)  # the same score, whatever the order


def test_the_entry_that_answers_makes_the_question_likelier_than_no_entry(bot, manager) -> None:
    entries = {e.id: e for e in bot.entries()}
    question, ids = CASES[1]
    *scores, prior = log_likelihoods(manager.handle("generation"), question, [entries[ids[0]]], False, prior=True)
    assert len(scores) == 1 and scores[0] > prior, (scores, prior)


def test_the_context_quotes_the_entry_in_the_kb_language(bot) -> None:
    entry = next(e for e in bot.entries() if e.id == "card-lost")
    english, chinese = entry_context(entry, chinese=False), entry_context(entry, chinese=True)
    assert entry.question in english and entry.answer[:40] in english and "customer" in english
    assert entry.question in chinese and "顾客" in chinese
    assert margin([-1.0]) == 0.0 and margin([-1.0, -3.0, -2.0]) == pytest.approx(1.0)


# From the demo's labelled paraphrases, with their fast confidences: about 0.48 with a wrong
# top entry (transfer-pending for a top-up), 0.45 with the right one, and 0.96 (clear).
WRONG_IN_DOUBT = "the money i deposited still hasn't appeared"
RIGHT_IN_DOUBT = "can i transfer euros to my family in spain"
CLEAR = "is it possible to reverse a transfer"


def test_only_a_match_in_doubt_is_checked(bot) -> None:
    for question in (WRONG_IN_DOUBT, RIGHT_IN_DOUBT):
        fast = bot.search(question, k=3)
        assert CHECK_BAND[0] <= fast.confidence < CHECK_BAND[1], fast.confidence
        checked = bot.search(question, k=3, check_with_llm=True)
        assert checked.checked and "llm_margin" in checked.features
        assert [c.entry.id for c in checked.candidates] == [c.entry.id for c in fast.candidates]
    clear = bot.search(CLEAR, k=3, check_with_llm=True)
    assert clear.confidence >= CHECK_BAND[1] and not clear.checked and "llm_margin" not in clear.features


def test_the_check_lets_a_right_match_through_and_sinks_a_wrong_one(bot) -> None:
    # Without the check both are escalated (confidence below 0.5).
    assert bot.ask(RIGHT_IN_DOUBT).escalated and bot.ask(WRONG_IN_DOUBT).escalated
    right = bot.ask(RIGHT_IN_DOUBT, check_with_llm=True)
    assert not right.escalated and right.source_id == "transfer-international", right.confidence
    assert "checked by the language model" in right.why.calibration
    table = _why_markdown(right.why)  # as the page shows it
    assert "(this knowledge base's calibration, checked by the language model) |" in table, table
    assert not right.phrased_by_llm  # checking does not phrase: use_llm is off
    fast = bot.search(WRONG_IN_DOUBT).confidence
    wrong = bot.ask(WRONG_IN_DOUBT, check_with_llm=True)
    assert wrong.escalated and wrong.confidence < fast - 0.2, (fast, wrong.confidence)


def test_each_generation_model_has_its_own_checked_map_and_others_do_not_check(bot, manager, monkeypatch) -> None:
    from apps.customer_service.calibration import shared_map

    generation = {s.name for s in manager.model_specs("generation")}
    assert {"qwen2.5-coder-0.5b", "smollm2-135m"} <= set(shared_map().checked) <= generation
    assert set(shared_map().checked_cross) == set(shared_map().checked)
    assert manager.handle("generation").name in bot.retriever.checked_calibrators
    # A model with no map of its own (a user's, say) leaves the fast confidence as it is.
    monkeypatch.setattr(bot.retriever, "checked_calibrators", {})
    fast = bot.search(RIGHT_IN_DOUBT, k=3)
    unchecked = bot.search(RIGHT_IN_DOUBT, k=3, check_with_llm=True)
    assert not unchecked.checked and unchecked.confidence == fast.confidence
