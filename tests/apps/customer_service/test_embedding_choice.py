"""The embedding model(s) follow the knowledge base's language (real MiniLM and e5)."""

from __future__ import annotations

import numpy as np
import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.embedders import BOTH, DIM
from shared_models.types.embedding import DEFAULT_MODEL as MINILM
from shared_models.types.embedding import MULTILINGUAL_MODEL as E5

from .test_own_data import CAFE_FAQ, PLANT_FAQ


@pytest.fixture(scope="module")
def plant_bot(manager, tmp_path_factory) -> CustomerServiceBot:
    bot = CustomerServiceBot(data_dir=tmp_path_factory.mktemp("plants-emb"), manager=manager)
    bot.import_faq(PLANT_FAQ.encode(), name="fernleaf_faq.csv", replace=True)
    return bot


def test_an_english_kb_gets_both_models_and_says_so(plant_bot):
    assert plant_bot.embedding_model == BOTH
    assert plant_bot.kb.dim == 2 * DIM
    summary = plant_bot.calibration_summary()
    assert summary["embedding_automatic"] and MINILM in summary["embedding_described"]
    assert E5 in summary["embedding_described"]


def test_an_english_question_is_ranked_by_minilm(plant_bot, manager):
    question = "how long does shipping take?"
    top = plant_bot.search(question).top
    assert top.entry.id == "ship-time"
    q = manager.handle(MINILM).call([question])[0]
    phrasings = manager.handle(MINILM).call(list(top.entry.phrasings))
    assert top.dense == pytest.approx(float(np.max(np.stack(phrasings) @ q)), abs=1e-4)


def test_a_chinese_question_against_an_english_kb_is_ranked_by_e5(plant_bot, manager):
    question = "我的植物叶子为什么变黄了？"
    result = plant_bot.search(question)
    assert result.cross_lingual and result.top.entry.id == "care-yellow"
    q = manager.handle(E5).call([question])[0]
    phrasings = manager.handle(E5).call(list(result.top.entry.phrasings))
    # The score is e5's alone: MiniLM knows no Chinese.
    assert result.top.dense == pytest.approx(float(np.max(np.stack(phrasings) @ q)), abs=1e-4)
    # Its confidence comes from the map fitted on e5-only views of the calibration samples.
    why = plant_bot.explain(question)
    assert why.calibration == "this knowledge base's calibration for a question in another language"
    assert plant_bot.retriever.cross_calibrator is not None


def test_importing_a_chinese_faq_switches_to_e5_and_the_choice_is_stored(manager, tmp_path):
    bot = CustomerServiceBot(data_dir=tmp_path / "kb", manager=manager)
    bot.import_faq(PLANT_FAQ.encode(), name="plants.csv", replace=True)
    assert bot.embedding_model == BOTH
    bot.import_faq(CAFE_FAQ.encode(), name="cafe.csv", replace=True, company="小满咖啡")
    assert bot.embedding_model == E5 and bot.kb.dim == DIM
    assert bot.calibration.embedding_model == E5
    assert bot.ask("我点的外卖要等多久才到", session_id="zh").source_id == "delivery-time"
    reopened = CustomerServiceBot(data_dir=tmp_path / "kb", manager=manager)
    assert reopened.embedding_model == E5 and len(reopened.kb) == len(bot.kb)
    assert reopened.calibration.kb_revision == bot.calibration.kb_revision  # not refitted


def test_a_fixed_model_is_kept_whatever_the_language(manager, tmp_path):
    bot = CustomerServiceBot(data_dir=tmp_path / "fixed", manager=manager, embedding_model=MINILM)
    bot.import_faq(CAFE_FAQ.encode(), name="cafe.csv", replace=True)
    assert bot.embedding_model == MINILM and not bot.calibration_summary()["embedding_automatic"]


def test_own_faq_answers_more_without_more_wrong_answers(manager, tmp_path):
    """The fernleaf tuning set of bench/own_data (a real FAQ and customers' paraphrases):
    with the demo's old calibration 50% were answered right and 2% wrong."""
    import csv

    from core.settings import PROJECT_ROOT

    folder = PROJECT_ROOT / "bench" / "own_data" / "fernleaf"
    bot = CustomerServiceBot(data_dir=tmp_path / "fernleaf", manager=manager)
    bot.import_faq(folder / "faq.csv", replace=True, company="Fernleaf Plant Co.")
    rows = list(csv.DictReader((folder / "questions.csv").open(encoding="utf-8")))
    verdicts = {"paraphrase": [], "cross": [], "off_topic": []}
    for row in rows:
        result = bot.search(row["question"])
        if not bot.would_answer(result.confidence):
            verdicts[row["kind"]].append("escalated")
        else:
            verdicts[row["kind"]].append("right" if result.top.entry.id == row["expected_id"] else "wrong")
    para = verdicts["paraphrase"]
    assert para.count("right") / len(para) >= 0.58 and para.count("wrong") / len(para) <= 0.05
    assert verdicts["cross"].count("right") / len(verdicts["cross"]) >= 0.6
    assert verdicts["off_topic"].count("escalated") == len(verdicts["off_topic"])
