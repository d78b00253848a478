"""A company's own FAQ: its greeting, its calibration, Chinese, intents off until trained."""

from __future__ import annotations

import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.api import NO_INTENTS_HINT, SUGGESTION_FLOOR, company_from_filename
from apps.customer_service.calibration import fit_logistic, shared_map
from apps.customer_service.lexical import tokenize
from core.errors import InvalidInputError

PLANT_FAQ = """id,category,question,answer
ship-time,delivery,How long does delivery take?,Orders arrive in 2-3 working days by tracked courier.
ship-cost,delivery,How much is delivery?,Delivery is £4.95 and free over £50.
returns,returns,Can I return something I don't want?,Unused pots and tools can be returned within 30 days.
care-water,plant care,How often should I water my plant?,Water when the top 2-3 cm of soil are dry.
care-yellow,plant care,Why are my plant's leaves turning yellow?,Yellow leaves usually mean overwatering.
pet-safe,plant care,Are your plants safe for cats and dogs?,Plants with the paw icon are non-toxic to pets.
payment,payments,Which payment methods do you accept?,"Visa, Mastercard, PayPal and Apple Pay."
"""
CAFE_FAQ = """id,category,question,answer
delivery-time,外卖配送,外卖多久能送到？,下单后一般 30 分钟内送达，高峰期可能延长到 45 分钟。
delivery-fee,外卖配送,外送要配送费吗？,满 29 元免配送费，不满 29 元收 5 元配送费。
refund,售后,怎么申请退款？,未制作的订单可直接取消，款项原路退回。
invoice,订单,怎么开发票？,在订单详情中填写抬头和税号，电子发票 24 小时内发到邮箱。
points,会员,积分怎么攒，能换什么？,每消费 1 元积 1 分，积分可兑换饮品券。
hours,门店,门店几点开门？,大部分门店营业时间为 7:30–21:00。
"""


@pytest.fixture(scope="module")
def plant_bot(manager, tmp_path_factory) -> CustomerServiceBot:
    bot = CustomerServiceBot(data_dir=tmp_path_factory.mktemp("plants"), manager=manager)
    bot.import_faq(PLANT_FAQ.encode(), name="fernleaf_faq.csv", replace=True)
    return bot


@pytest.fixture(scope="module")
def cafe_bot(manager, tmp_path_factory) -> CustomerServiceBot:
    bot = CustomerServiceBot(data_dir=tmp_path_factory.mktemp("cafe"), manager=manager)
    bot.import_faq(CAFE_FAQ.encode(), name="cafe.csv", replace=True, company="小满咖啡")
    return bot


def test_importing_a_faq_gives_a_bot_that_greets_as_that_company(plant_bot):
    assert plant_bot.company == "Fernleaf"
    greeting = plant_bot.greeting()
    assert "Fernleaf" in greeting and "plant care" in greeting
    assert "card" not in greeting.lower() and "Kestrel" not in greeting
    reply = plant_bot.ask("hello!", session_id="greet")
    assert not reply.escalated and reply.answer == greeting
    assert set(plant_bot.example_questions()) <= {e.question for e in plant_bot.entries()}
    assert "plant care" in plant_bot.placeholder()


def test_import_calibrates_the_knowledge_base_itself(plant_bot):
    c = plant_bot.calibration
    assert c is not None and c.kb_revision == plant_bot.kb.revision()
    assert c.positives >= 7 and c.negatives > c.positives
    summary = plant_bot.calibration_summary()
    assert 0.0 <= summary["error_rate"] <= summary["answer_rate"] <= 1.0
    # General questions are turned away; near misses (worded like an entry, whose entry is gone)
    # are counted apart, as the Knowledge base tab shows them.
    assert summary["off_topic_answered"] <= 0.1 and 0.0 <= summary["unanswerable_answered"] <= 1.0
    before = plant_bot.kb.revision()
    fits = plant_bot._refit.fits
    # Edits refit in the background, once for a burst: the save does not wait for the fit.
    plant_bot.add_entry("Do you sell gift cards?", "Yes, from £10 to £200.", "orders")
    plant_bot.add_entry("Do you sell pots?", "Yes, clay and glazed pots.", "orders")
    assert plant_bot.calibration_summary()["refitting"]
    assert plant_bot.wait_for_calibration()
    assert plant_bot._refit.fits == fits + 1 and not plant_bot.calibration_summary()["refitting"]
    assert plant_bot.calibration.kb_revision == plant_bot.kb.revision() > before


def test_each_knowledge_base_is_read_on_its_own_scale(plant_bot, cafe_bot):
    # One set of weights serves every knowledge base; what differs is the scale, measured on
    # the bundled off-topic questions: MiniLM puts unrelated English far lower than e5 puts
    # unrelated Chinese, so the same cosine means something else in each.
    plant, cafe = plant_bot.calibration, cafe_bot.calibration
    assert plant.weights == cafe.weights == shared_map().weights
    assert plant.center < 0.5 < cafe.center and cafe.spread < plant.spread
    assert plant.cross_center > plant.center  # the cross-language view is e5's alone
    # A cosine that is ordinary for the cafe's e5 reads as far above off-topic for the shop.
    features = {"dense": cafe.center, "margin": 0.0, "coverage": 0.0, "agree": 0.0}
    assert plant_bot.retriever.calibrator(features) > 0.5 > 0.1 > cafe_bot.retriever.calibrator(features)


def test_an_english_knowledge_base_asks_its_second_model_for_a_second_opinion(plant_bot, cafe_bot):
    # English: MiniLM ranks and e5 is stored beside it; e5's own scale is measured too, and
    # each term of the confidence is the mean of the two models' readings. Chinese: e5 alone.
    plant, cafe = plant_bot.calibration, cafe_bot.calibration
    assert plant.second_center is not None and plant.second_spread > 0
    assert plant.second_center > plant.center  # e5 puts unrelated text higher than MiniLM does
    assert cafe.second_center is None and cafe.second_spread is None
    r = plant_bot.search("how long does shipping take?")
    assert r.top.entry.id == "ship-time" and {"dense2", "margin2"} <= set(r.features)
    assert r.features["margin2"] > 0  # e5 agrees
    scaled = plant_bot.retriever.calibrator.scaled(r.features)
    minilm = (r.features["dense"] - plant.center) / plant.spread
    e5 = (r.features["dense2"] - plant.second_center) / plant.second_spread
    assert scaled[0] == pytest.approx((minilm + e5) / 2)
    # The same MiniLM reading, with e5 preferring another entry, is less sure.
    doubted = {**r.features, "dense2": plant.second_center, "margin2": -0.05}
    calibrator = plant_bot.retriever.calibrator
    assert calibrator(doubted) < calibrator(r.features)
    assert "dense2" not in cafe_bot.search("外卖多久能送到").features


def test_the_shared_weights_never_count_evidence_against_an_answer():
    shared = shared_map()
    assert len(shared.weights) == 4 and len(shared.cross_weights) == 2
    assert min(shared.weights + shared.cross_weights) >= 0.0
    assert shared.bias < 0 and shared.cross_bias < 0  # an average off-topic question is escalated


def test_own_knowledge_base_answers_and_escalates(plant_bot):
    right = plant_bot.ask("how long does shipping take?", session_id="a")
    assert not right.escalated and right.source_id == "ship-time"
    off = plant_bot.ask("who won the football world cup in 2018?", session_id="b")
    assert off.escalated


def test_a_chinese_question_against_a_chinese_kb_gets_the_right_entry(cafe_bot):
    assert cafe_bot.language == "zh"
    reply = cafe_bot.ask("我点的外卖要等多久才到", session_id="zh")
    assert not reply.escalated and reply.source_id == "delivery-time"
    assert "小满咖啡" in cafe_bot.greeting()
    assert cafe_bot.ask("明天北京会下雨吗", session_id="zh2").escalated


def test_an_english_question_against_a_chinese_kb_ranks_the_right_entry(cafe_bot):
    ranked = [c.entry.id for c in cafe_bot.search("how do I get an invoice for my order?", k=3).candidates]
    assert "invoice" in ranked


def test_intents_are_off_until_trained_and_the_hint_says_how(plant_bot):
    assert plant_bot.intent_model is None and not plant_bot.intents_enabled
    reply = plant_bot.ask("how often do I water it?", session_id="i")
    assert reply.intent is None
    with pytest.raises(InvalidInputError, match="Intents tab"):
        plant_bot.intent_scores("hello")
    assert "train" in NO_INTENTS_HINT.lower()


def test_the_demo_keeps_its_intents(bot):
    assert bot.intents_enabled and bot.intent_model is not None


def test_manual_threshold_override_is_stored_and_can_be_cleared(plant_bot):
    plant_bot.set_threshold(0.9)
    assert plant_bot.threshold == 0.9 and plant_bot.threshold_overridden
    assert not plant_bot.would_answer(0.85)
    plant_bot.set_threshold(None)
    assert plant_bot.threshold == 0.5 and not plant_bot.threshold_overridden
    with pytest.raises(InvalidInputError):
        plant_bot.set_threshold(1.5)


def test_chinese_demo_knowledge_base(manager, tmp_path):
    zh = CustomerServiceBot.demo(language="zh", data_dir=tmp_path / "zh", manager=manager)
    assert zh.language == "zh" and "Kestrel Money" in zh.greeting()
    reply = zh.ask("我的卡丢了怎么办", session_id="zh")
    assert not reply.escalated and reply.source_id == "zh-card-lost"


def test_jieba_segments_chinese_words():
    tokens = tokenize("自行车刹车需要多久调整一次")
    assert "z:自行车" in tokens and "z:刹车" in tokens
    assert "z:的" not in tokenize("我的包裹")


def test_company_name_from_file_name():
    assert company_from_filename("velo_bikes-faq.csv") == "Velo Bikes"
    assert company_from_filename("小满咖啡常见问题.csv") == "小满咖啡常见问题"


def test_logistic_fit_separates_what_is_separable():
    import numpy as np

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.9, 0.02, (50, 1)), rng.normal(0.8, 0.02, (50, 1))])
    y = np.array([1] * 50 + [0] * 50, dtype=float)
    w, b = fit_logistic(X, y)
    p = 1 / (1 + np.exp(-(X @ w + b)))
    assert ((p >= 0.5) == (y == 1)).mean() > 0.95


def test_the_knowledge_base_tab_says_when_a_refit_is_pending(plant_bot, monkeypatch):
    from apps.customer_service import ui

    monkeypatch.setattr(ui, "get_bot", lambda: plant_bot)  # the page's view of this real bot
    monkeypatch.setattr(plant_bot._refit, "_delay", 60.0)  # the refit cannot land on its own
    plant_bot.add_entry("Do you sell seeds?", "Yes, forty kinds.", "orders")
    assert "Refitting after the latest edits" in ui.calibration_markdown()
    assert plant_bot.wait_for_calibration()
    text = ui.calibration_markdown()
    assert "Refitting" not in text
    assert f"confidence at least {SUGGESTION_FLOOR:.2f}) is escalated with the best entries" in text


def test_a_likely_match_that_is_escalated_is_also_suggested_to_the_customer(plant_bot, cafe_bot):
    # Below the answer threshold but a likely match: the customer gets the top entries to
    # look at while a person takes the ticket; an unrelated question gets none.
    reply = plant_bot.ask("can my dog chew on the fern", session_id="suggest")
    assert reply.escalated and reply.ticket_id is not None
    assert SUGGESTION_FLOOR <= reply.confidence < plant_bot.threshold
    assert [s.id for s in reply.suggestions][0] == "pet-safe" and len(reply.suggestions) <= 3
    assert "help articles may answer it" in reply.answer
    assert "• Are your plants safe for cats and dogs?" in reply.answer
    assert f"#{reply.ticket_id}" in reply.answer
    stored = plant_bot.conversations.history("suggest")[-1]["content"]
    assert stored == reply.answer  # the conversation keeps what the customer saw
    why = plant_bot.explain("can my dog chew on the fern")
    assert any(note.startswith("Suggested the best entries") for note in why.notes)
    off = plant_bot.ask("who won the football world cup in 2018?", session_id="suggest-off")
    assert off.escalated and off.suggestions == [] and "•" not in off.answer
    assert not any("Suggested" in note for note in plant_bot.explain("who won the football world cup in 2018?").notes)
    floor = cafe_bot.suggestion_floor
    try:
        cafe_bot.suggestion_floor = 0.0  # suggest whatever is escalated, to see the wording
        zh = cafe_bot.ask("我的咖啡怎么还没到", session_id="suggest-zh")
        assert zh.escalated and zh.suggestions and "以下帮助文章也许能解答您的问题" in zh.answer
        cafe_bot.suggestion_floor = 1.0  # never
        assert cafe_bot.ask("我的咖啡怎么还没到", session_id="suggest-zh2").suggestions == []
    finally:
        cafe_bot.suggestion_floor = floor


@pytest.mark.parametrize("floor", ["0.2", -0.1, float("nan"), True, None])
def test_a_bad_suggestion_floor_is_refused_clearly(floor, tmp_path):
    with pytest.raises(InvalidInputError, match="suggestion floor"):
        CustomerServiceBot(data_dir=tmp_path, suggestion_floor=floor)
