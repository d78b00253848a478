"""Explanations on real MovieLens data: reasons with strengths, "why not item Y?", and which
words of an item's text the hybrid model's match rests on.

Every model comes from the session's ``trained`` fixture (fitted once on the slice).
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from apps.recommendation import Recommender, ui
from apps.recommendation.explain import MAX_REASONS, RUNNER_UP_RATIO, Reason, WhyNot, words
from apps.recommendation.workspace import Workspace, recommendations_table, why_not_html
from core.errors import InvalidInputError

ADDITIVE = ("itemknn", "ease", "hybrid")  # score = a sum over the user's items
USER = "7"  # a heavy user of the slice (hundreds of ratings)


def _seen(rec: Recommender, user: str) -> set[str]:
    return {rec.items.ids[i] for i in rec.history[[rec.users.index[user]]].indices}


@pytest.mark.parametrize("name", ["itemknn", "ease", "hybrid", "bpr"])
def test_reason_strengths_are_in_range_and_ordered(name, trained):
    rec = trained(name)
    recs = rec.recommend(USER, k=10)
    seen = _seen(rec, USER)
    explained = [r for r in recs if r.reasons]
    assert len(explained) >= 8, [r.reason for r in recs]
    for r in explained:
        first = r.reasons[0]
        assert r.because_item_id == first.item_id and r.reason == f"Because you liked {first.title}"
        assert 1 <= len(r.reasons) <= MAX_REASONS
        assert {x.item_id for x in r.reasons} <= seen
        strengths = [x.strength for x in r.reasons]
        assert strengths == sorted(strengths, reverse=True)
        assert all(s >= RUNNER_UP_RATIO * strengths[0] > 0 for s in strengths)
        for x in r.reasons:
            if name in ADDITIVE:
                assert x.share is not None and 0 < x.share <= 1
            else:  # BPR: a known user's vector is learned, so there is no share of it
                assert x.share is None
            if name != "ease":  # cosines; EASE's similarity is a regression weight
                assert -1.0 - 1e-5 <= x.similarity <= 1.0 + 1e-5
        if name in ADDITIVE:
            assert sum(x.share for x in r.reasons) <= 1 + 1e-6


@pytest.mark.parametrize("name", ADDITIVE)
def test_shares_are_shares_of_the_real_score(name, trained):
    """The parts the shares come from add up to the score the item was ranked by."""
    rec = trained(name)
    row = rec.users.index[USER]
    history = rec.history[[row]]
    recs = rec.recommend(USER, k=5)
    cols = np.array([rec.items.index[r.item_id] for r in recs])
    parts = rec.model.contributions(np.array([row]), history, cols).float().cpu().numpy()
    np.testing.assert_allclose(parts.sum(0), [r.score for r in recs], rtol=1e-4, atol=1e-5)
    for r, col in zip(recs, parts.T, strict=True):
        top = int(np.argmax(col))
        assert rec.items.ids[history.indices[top]] == r.because_item_id
        assert r.reasons[0].share == pytest.approx(col[top] / np.clip(col, 0, None).sum(), rel=1e-4)


def test_ease_share_is_the_weight_of_the_liked_item(trained):
    """Independently of the explainer: EASE's score for j is the sum of B[h, j] over the history."""
    rec = trained("ease")
    history = rec.history[[rec.users.index[USER]]].indices
    r = rec.recommend(USER, k=1)[0]
    B = rec.model.B.cpu().numpy()
    weights = B[history, rec.items.index[r.item_id]]
    assert rec.items.ids[history[np.argmax(weights)]] == r.because_item_id
    assert r.reasons[0].share == pytest.approx(weights.max() / np.clip(weights, 0, None).sum(), rel=1e-4)


@pytest.mark.parametrize("name", ["popular", "itemknn", "ease", "bpr", "hybrid"])
def test_why_not_the_top_item_is_rank_one_and_sets_the_cut_off(name, trained, slice_split):
    rec = trained(name) if name != "popular" else Recommender("popular", device="cpu").fit(slice_split[0])
    recs = rec.recommend(USER, k=10)
    top = rec.why_not(USER, recs[0].item_id, k=10)
    assert (top.rank, top.in_top_k, top.seen) == (1, True, False)
    assert top.score == pytest.approx(recs[0].score, rel=1e-4, abs=1e-5)
    assert top.cutoff == pytest.approx(recs[-1].score, rel=1e-4, abs=1e-5)  # the 10th best
    assert top.candidates == len(rec.items) - len(_seen(rec, USER))
    assert "ranks 1 of" in top.summary() and "is in the top 10" in top.summary()
    if name == "popular":
        assert top.reasons == ()
    else:
        assert top.reasons and top.reasons[0].item_id == recs[0].because_item_id


@pytest.mark.parametrize("name", ["ease", "bpr", "hybrid"])
def test_why_not_a_low_item_reports_its_true_rank(name, trained):
    rec = trained(name)
    unseen = len(rec.items) - len(_seen(rec, USER))
    full = rec.recommend(USER, k=min(unseen, 1000))  # the whole ranking, through the serving path
    scores = np.array([r.score for r in full])
    # An item two thirds down whose score no neighbour shares, so its rank is unambiguous.
    pos = next(p for p in range(2 * len(full) // 3, len(full) - 1)
               if abs(scores[p] - scores[p - 1]) > 1e-5 and abs(scores[p] - scores[p + 1]) > 1e-5)
    low = rec.why_not(USER, full[pos].item_id, k=10)
    assert low.rank == pos + 1 and not low.in_top_k
    assert low.score < low.cutoff
    assert low.score == pytest.approx(full[pos].score, rel=1e-4, abs=1e-5)
    summary = low.summary()
    assert f"ranks {pos + 1:,} of {unseen:,}" in summary and "not in the top 10" in summary
    assert "below the cut-off" in summary
    # With a cut-off below it, the same item is in the top k.
    assert rec.why_not(USER, full[pos].item_id, k=pos + 1).in_top_k


def test_why_not_seen_unknown_and_bad_input(trained):
    rec = trained("ease")
    seen_item = sorted(_seen(rec, USER))[0]
    seen = rec.why_not(USER, seen_item)
    assert seen.seen and seen.rank is None and seen.score is None
    assert "already interacted" in seen.summary()
    with pytest.raises(InvalidInputError, match="Unknown item 'no-such-item'"):
        rec.why_not(USER, "no-such-item")
    with pytest.raises(InvalidInputError, match="Unknown user 'nobody'"):
        rec.why_not("nobody", seen_item)
    with pytest.raises(InvalidInputError, match="k must be"):
        rec.why_not(USER, seen_item, k=0)
    with pytest.raises(InvalidInputError, match="not trained"):
        Recommender("ease").why_not(USER, seen_item)


def test_hybrid_text_evidence_names_words_of_the_item_text(trained):
    rec = trained("hybrid")
    assert all(not r.text_evidence for r in rec.recommend(USER, k=5))  # only when asked
    recs = rec.recommend(USER, k=10, explain_text=True)
    with_text = [r for r in recs if r.text_evidence]
    assert len(with_text) >= 5, [(r.title, r.text_evidence) for r in recs]
    for r in with_text:
        text = rec.texts[r.item_id]
        assert 1 <= len(r.text_evidence) <= 3
        assert all(e.word in words(text) and e.word in text for e in r.text_evidence)
        weights = [e.weight for e in r.text_evidence]
        assert weights == sorted(weights, reverse=True) and all(0 < w < 1 for w in weights)
    # The same words through "why not?" for the top item and its nearest reason.
    top = rec.why_not(USER, recs[0].item_id)
    assert [e.word for e in top.text_evidence] == [e.word for e in recs[0].text_evidence]
    # Models that do not read text explain none.
    assert all(not r.text_evidence for r in trained("ease").recommend(USER, k=5, explain_text=True))


def test_new_user_reasons_have_shares_unless_a_description_is_mixed_in(trained):
    liked = ["50", "181", "172"]  # Star Wars, Return of the Jedi, Empire Strikes Back
    for name in ("ease", "bpr"):  # BPR folds a new user in as a mean: additive again
        recs = trained(name).recommend_for_new_user(liked, k=5)
        assert all(r.reasons and r.reasons[0].share is not None and r.because_item_id in liked for r in recs)
    hybrid = trained("hybrid").recommend_for_new_user(liked, text="space adventure", k=5)
    assert all(x.share is None for r in hybrid for x in r.reasons)


def test_the_page_shows_strengths_and_answers_why_not(trained):
    ws = Workspace()
    ws.serving = {"ease": trained("ease")}  # the trained model serves the page
    recs = trained("ease").recommend(USER, k=5)
    table = recommendations_table(recs)
    assert {"strength", "also because"} <= set(table.columns) and "text that mattered" not in table.columns
    assert table["strength"].str.fullmatch(r"\d+(\.\d)?% of score · similarity 0\.\d+").all(), table["strength"]
    answer = ui.why_not(USER, f"{recs[0].title} [{recs[0].item_id}]", 10, "ease", ws, progress=None)
    assert "ranks 1 of" in answer and "Because they liked" in answer
    with pytest.raises(gr.Error, match="Choose the item"):
        ui.why_not(USER, "", 10, "ease", ws, progress=None)
    with pytest.raises(gr.Error, match="Unknown item"):
        ui.why_not(USER, "Nothing [zzz]", 10, "ease", ws, progress=None)
    hybrid = recommendations_table(trained("hybrid").recommend(USER, k=3, explain_text=True))
    assert hybrid["text that mattered"].str.contains("without it").any()


def test_why_not_html_escapes_data():
    evil = '<img src=x onerror="alert(1)">'
    result = WhyNot("u<1>", "i1", evil, 10, False, 12, 100, 0.1, 0.2, (Reason("i2", evil, 0.5, 0.25),))
    page = why_not_html(result)
    assert "<img" not in page and "&lt;img" in page and "u&lt;1&gt;" in page
