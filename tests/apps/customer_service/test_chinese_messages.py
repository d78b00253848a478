"""A Chinese knowledge base gets the bot's own messages in Chinese (the Chinese demo, real encoder)."""

from __future__ import annotations

import re

import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.api import FALLBACK, HUMAN_HANDOVER, OFFER_HUMAN

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture(scope="module")
def zh_bot(manager, tmp_path_factory) -> CustomerServiceBot:
    """The Chinese demo knowledge base (demo/faq_zh.csv), language model off."""
    return CustomerServiceBot.demo(
        language="zh", data_dir=tmp_path_factory.mktemp("cs-zh"), manager=manager
    )


def _chinese(text: str) -> bool:
    """Chinese, with no English words but the company's name."""
    return bool(_CJK.search(text)) and not _LATIN_WORD.findall(text.replace("Kestrel Money", ""))


def test_the_language_is_read_from_the_entries(zh_bot, bot):
    assert zh_bot.language == "zh" and bot.language == "en"
    assert _chinese(zh_bot.greeting()) and _chinese(zh_bot.placeholder())


def test_an_unanswerable_question_is_escalated_in_chinese(zh_bot):
    reply = zh_bot.ask("你们食堂明天中午吃什么菜？", session_id="zh-off-topic")
    assert reply.escalated and reply.ticket_id is not None
    assert _chinese(reply.answer) and f"#{reply.ticket_id}" in reply.answer, reply.answer
    assert reply.answer != FALLBACK.format(ticket=reply.ticket_id)


def test_asking_for_a_person_is_answered_in_chinese(zh_bot):
    reply = zh_bot.ask("转人工", session_id="zh-human")
    assert reply.escalated and _chinese(reply.answer) and f"#{reply.ticket_id}" in reply.answer
    assert reply.answer != HUMAN_HANDOVER.format(ticket=reply.ticket_id)


def test_an_angry_customer_is_offered_a_person_in_chinese_and_yes_hands_over(zh_bot):
    # The lexicon scores whole words: "垃圾" and "太差" standing alone make the message angry.
    reply = zh_bot.ask("我的卡丢了怎么办，垃圾，太差了", session_id="zh-angry")
    assert not reply.escalated and reply.source_id == "zh-card-lost", reply
    assert reply.offer_human and reply.answer.endswith(zh_bot.say(OFFER_HUMAN))
    assert "转人工" in reply.answer and "talk to a human" not in reply.answer
    follow = zh_bot.ask("好的", session_id="zh-angry")
    assert follow.escalated and _chinese(follow.answer), follow.answer


def test_an_english_knowledge_base_keeps_english_messages(bot):
    reply = bot.ask("What's the capital of Mongolia?", session_id="en-off-topic")
    assert reply.escalated and reply.answer == FALLBACK.format(ticket=reply.ticket_id)
    assert bot.say(OFFER_HUMAN) == OFFER_HUMAN
