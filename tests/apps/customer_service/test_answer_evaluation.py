"""Testing the bot on labelled questions: the real demo bot decides, nothing is stored."""

from __future__ import annotations

import itertools

import pytest

from apps.customer_service import evaluation, ui
from apps.customer_service.evaluation import (
    LabelledQuestion,
    demo_questions,
    normalise_questions,
    parse_labelled_questions,
    read_labelled_questions,
)
from core.errors import InvalidInputError
from core.settings import Limits

from .test_match_check import CLEAR, RIGHT_IN_DOUBT, WRONG_IN_DOUBT

OFF_TOPIC = "how do I bake sourdough bread?"
SET = [
    (CLEAR, "transfer-cancel"),  # answered rightly
    (CLEAR, "card-lost"),  # the same question mislabelled: answered "wrongly"
    (RIGHT_IN_DOUBT, "transfer-international"),  # escalated without the check
    (WRONG_IN_DOUBT, "topup-pending"),  # escalated either way
    (OFF_TOPIC, ""),
]


def _stored(bot) -> tuple[int, int]:
    return bot.feedback_stats()["answers"], len(bot.tickets(status=None))


def test_each_question_is_decided_as_the_chat_would_and_nothing_is_stored(bot) -> None:
    before = _stored(bot)
    result = bot.evaluate_answers(SET)
    assert _stored(bot) == before
    assert [o.verdict for o in result.outcomes] == ["right", "wrong", "escalated", "escalated", "off-topic escalated"]
    for o in result.outcomes:
        fast = bot.search(o.question)
        assert o.top_id == fast.top.entry.id and o.confidence == pytest.approx(fast.confidence, abs=1e-4)
        assert (o.answered_id is not None) == bot.would_answer(fast.confidence)
        assert o.ms > 0
    # Both questions in doubt are escalated with three entries suggested, their own among them.
    suggested = [o.suggested_ids for o in result.outcomes]
    assert suggested[:2] == [(), ()] and suggested[4] == ()  # answered; off-topic below the floor
    assert suggested[2][0] == "transfer-international" and "topup-pending" in suggested[3], suggested
    r = result.fast
    assert (r.answerable, r.right, r.wrong, r.escalated, r.suggested_right) == (4, 0.25, 0.25, 0.5, 0.5)
    assert (r.off_topic, r.off_topic_escalated, r.cross_lingual) == (1, 1.0, 0)
    assert 0 < r.p50_ms <= r.p95_ms
    assert result.checked is None and result.outcomes[0].checked_verdict is None


def test_the_check_is_reported_beside_the_fast_match(bot, manager) -> None:
    result = bot.evaluate_answers(SET[2:], check_with_llm=True)
    assert result.checked_by == manager.handle("generation").name
    by_question = {o.question: o for o in result.outcomes}
    right = by_question[RIGHT_IN_DOUBT]
    assert (right.verdict, right.checked_verdict, right.checked_answered_id) == (
        "escalated", "right", "transfer-international"
    )  # fmt: skip
    assert right.checked_ms >= right.ms and right.checked_suggested_ids == ()  # answered now
    assert by_question[WRONG_IN_DOUBT].checked_verdict == "escalated"
    assert by_question[OFF_TOPIC].checked_verdict == "off-topic escalated"
    assert (result.fast.right, result.checked.right) == (0.0, 0.5)


def test_a_model_without_a_checked_map_is_refused_rather_than_silently_unchecked(bot, monkeypatch) -> None:
    monkeypatch.setattr(bot.retriever, "checked_calibrators", {})
    with pytest.raises(InvalidInputError, match="no checked map"):
        bot.evaluate_answers(SET[:1], check_with_llm=True)


def test_ids_of_another_knowledge_base_are_named(bot) -> None:
    with pytest.raises(InvalidInputError, match=r"2 expected entry id\(s\) .*: ship-areas, ship-time"):
        bot.evaluate_answers([("when will my plant arrive", "ship-time"), ("ireland?", "ship-areas"), (CLEAR, "")])


def test_the_demo_set_runs_through_the_page(bot, monkeypatch) -> None:
    monkeypatch.setattr(ui, "get_bot", lambda: bot)
    summary, figure, table = ui.run_answer_test("demo", None, False)
    asked = demo_questions()
    assert f"of {sum(bool(q.expected_id) for q in asked)} answerable questions" in summary, summary
    assert "**Fast match**: right " in summary and "Checked" not in summary
    assert len(table) == len(asked) and figure is not None
    order = [evaluation.MISTAKES_FIRST.index(v) for v in table["outcome"]]
    assert order == sorted(order)  # mistakes first
    answerable = table[table["expected"] != "(none)"]
    right = (answerable["outcome"] == "right").mean()
    assert right > 0.6, right  # the demo bot answers most of its own customers' questions rightly


def test_the_chinese_demo_has_its_own_test_set(manager, tmp_path) -> None:
    from apps.customer_service import CustomerServiceBot

    zh = CustomerServiceBot.open("demo-zh", manager=manager, data_dir=tmp_path / "zh")
    result = zh.evaluate_answers(demo_questions("demo-zh"))  # every expected id is the demo's
    r = result.fast
    assert (r.answerable, r.off_topic) == (48, 10)
    # Written as customers' everyday Chinese, nothing tuned on it: 44 of 48 right, none wrong.
    assert r.right >= 0.8 and r.wrong <= 0.05 and r.off_topic_escalated >= 0.9, r
    with pytest.raises(InvalidInputError, match="demo knowledge bases only"):
        demo_questions("own")


def test_uploads_are_read_with_clear_errors(tmp_path) -> None:
    limits = Limits()
    good = "question,expected_id\nwhere is my card,card-delivery\n\"hi, how tall is everest\",\n"
    assert parse_labelled_questions(good.encode(), "q.csv", limits) == [
        LabelledQuestion("where is my card", "card-delivery"),
        LabelledQuestion("hi, how tall is everest", ""),
    ]
    # Other names of the expected column, a BOM, Chinese.
    assert parse_labelled_questions("\ufeffQuestion,Entry_ID\n我的卡到哪了,card-delivery\n".encode(), "q.csv", limits)[
        0
    ] == LabelledQuestion("我的卡到哪了", "card-delivery")
    cases = [
        (b"text,intent\nhello,greet\n", "needs a 'question' column and an 'expected_id' column"),
        (b"question,expected_id\n", "holds no questions"),
        (b"question,expected_id\n,card-lost\n", "question 1 is empty"),
        ("question,expected_id\ncaf\xe9,x\n".encode("latin-1"), "not UTF-8"),
        (b'question,expected_id\n"unclosed,x\n', "not a readable CSV"),
        (b"question,expected_id\nonly one field\n", "row 2 has fewer fields"),
        (f"question,expected_id\n{'x' * 600},a\n".encode(), "the limit is 500"),
    ]
    for data, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            parse_labelled_questions(data, "q.csv", limits)
    with pytest.raises(InvalidInputError, match="MB; the limit is 0 MB"):
        parse_labelled_questions(good.encode(), "q.csv", Limits(max_upload_mb=0))
    with pytest.raises(InvalidInputError, match="No questions CSV"):
        read_labelled_questions(tmp_path / "missing.csv", limits)


def test_the_number_of_questions_is_limited(monkeypatch) -> None:
    monkeypatch.setattr(evaluation, "MAX_QUESTIONS", 3)
    with pytest.raises(InvalidInputError, match="more than 3 questions"):
        parse_labelled_questions(b"question,expected_id\n" + b"q,\n" * 5, "q.csv", Limits())
    with pytest.raises(InvalidInputError, match="more than 3 questions"):
        normalise_questions(["a", "b", "c", "d"])
    with pytest.raises(InvalidInputError, match="more than 3 questions"):  # read no further
        normalise_questions(itertools.repeat("again?"))


def test_questions_in_python_come_as_pairs_dicts_or_strings() -> None:
    got = normalise_questions([("a?", "x"), {"question": "b?", "expected_id": "y"}, "c?", ["d?", None]])
    assert got == [LabelledQuestion("a?", "x"), LabelledQuestion("b?", "y"), LabelledQuestion("c?"), LabelledQuestion("d?")]
    for bad in ("just a string", 42, [3.5], [("a?", 7)]):
        with pytest.raises(InvalidInputError):
            normalise_questions(bad)
