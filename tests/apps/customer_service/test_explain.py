"""Why this answer: matched words, scores, threshold, intent attributions, escalation (real models)."""

from __future__ import annotations

import re

import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.explain import PART, WHOLE


def _entry_text(bot: CustomerServiceBot, entry_id: str) -> str:
    entry = bot.entry(entry_id)
    return " ".join([entry.question, *entry.alternatives, entry.answer]).lower()


def test_an_answer_shows_the_words_that_matched_its_entry(bot):
    question = "my card never showed up"
    reply = bot.ask(question, session_id="t-why-answer")
    why = reply.why
    assert not reply.escalated and why.decision == "answered"
    assert why.entry_id == reply.source_id == "card-not-arrived"
    assert "card" in why.matched_words
    text = _entry_text(bot, why.entry_id)
    for m in why.matched:
        assert question[m.start : m.end] == m.word
        if m.whole:  # the word itself, not only a piece of it, is in the entry
            assert re.search(rf"\b{re.escape(m.word.lower())}\b", text), m.word
    assert "my" not in why.matched_words  # a stop word never counts for BM25
    # The highlighted question is the question, cut into labelled pieces.
    pieces = why.highlights()
    assert "".join(p for p, _ in pieces) == question
    assert ("card", WHOLE) in pieces and {label for _, label in pieces} <= {WHOLE, PART, None}
    # The figures are the ones the bot decided on.
    assert why.confidence == reply.confidence >= why.threshold == bot.threshold
    assert why.threshold_source == "default" and why.calibration == "this knowledge base's calibration"
    assert 0 < why.dense <= 1 and why.lexical > 0 and 0 < why.coverage <= 1
    assert why.escalation is None
    # The intent's top 3 come free; the word attributions only when asked for.
    assert [g.intent for g in why.intents][:1] == [reply.intent] and len(why.intents) == 3
    assert why.intents[0].probability >= why.intents[1].probability >= why.intents[2].probability
    assert why.intent_words is None


def test_an_off_topic_question_is_escalated_with_a_sentence_naming_the_threshold(bot):
    reply = bot.ask("how do I bake sourdough bread?", session_id="t-why-off-topic")
    why = reply.why
    assert reply.escalated and why.decision == "escalated"
    assert why.escalation.startswith("Escalated:")
    assert f"below the threshold {bot.threshold:.2f}" in why.escalation
    assert f"confidence {reply.confidence:.2f}" in why.escalation
    # It names the best match it did not use.
    assert why.entry_id is not None and why.entry_question in why.escalation


def test_the_sentence_names_a_threshold_set_by_hand(bot):
    question = "how do I bake sourdough bread?"
    bot.set_threshold(0.85)
    try:
        why = bot.explain(question)
    finally:
        bot.set_threshold(None)
    assert "below the threshold 0.85" in why.escalation
    assert why.threshold == 0.85 and why.threshold_source == "set by hand"


def test_asking_for_a_person_is_the_reason_given(bot):
    reply = bot.ask("can I talk to a real person please", session_id="t-why-human")
    assert reply.escalated
    assert reply.why.escalation == 'Escalated: the customer asked for a person ("talk to a real person").'
    assert reply.why.confidence is None  # no retrieval ran: nothing to show


def test_occlusion_puts_the_decisive_word_first(bot, manager):
    question = "my card never showed up"
    embedded = manager.metrics.for_model(bot.embedding_model)
    before = embedded.items
    answers_before = bot.feedback_stats()["answers"]
    why = bot.explain(question)
    words = question.split()
    # The question once to answer, then once more with each word left out, one batch.
    assert embedded.items - before == 1 + 1 + len(words)
    assert bot.feedback_stats()["answers"] == answers_before  # explain stores nothing
    assert why.intents[0].intent == "card"
    assert sorted(w.word for w in why.intent_words) == sorted(words)
    first, second = why.intent_words[:2]
    assert first.word == "card"
    assert first.drop > 0.3 and first.drop > 5 * max(second.drop, 0.01)
    # The chat asks for the same through ask(explain=True).
    asked = bot.ask(question, session_id="t-why-occlusion", explain=True).why
    assert asked.intent_words[0].word == "card"
    assert asked.intent_words[0].drop == pytest.approx(first.drop, abs=0.02)


@pytest.fixture(scope="module")
def zh_bot(manager, tmp_path_factory) -> CustomerServiceBot:
    return CustomerServiceBot.demo(
        language="zh", data_dir=tmp_path_factory.mktemp("cs-zh"), manager=manager
    )


def test_a_chinese_question_gets_chinese_matched_words(zh_bot):
    question = "卡一直没收到怎么办"
    reply = zh_bot.ask(question, session_id="t-why-zh", explain=True)
    why = reply.why
    assert not reply.escalated and why.entry_id == "zh-card-missing"
    assert why.matched_words, "no matched words"
    text = _entry_text(zh_bot, why.entry_id)
    for m in why.matched:
        assert re.fullmatch(r"[\u4e00-\u9fff]+", m.word), m.word  # jieba's words, not n-grams
        if m.whole:
            assert m.word in text
    assert "卡" in why.matched_words and any(len(w) > 1 for w in why.matched_words)
    assert why.intents[0].intent == "card" and why.intent_words[0].word == "卡"


def test_an_off_topic_chinese_question_says_why_it_was_escalated(zh_bot):
    why = zh_bot.explain("明天天气怎么样？")
    assert why.decision == "escalated"
    assert f"below the threshold {zh_bot.threshold:.2f}" in why.escalation
