"""The page builds, and its handlers work end to end on the demo data."""

from __future__ import annotations

import gradio as gr
import pytest

from apps.recommendation import ui


def no_progress(*_args, **_kwargs) -> None:
    return None


def test_page_builds_with_named_endpoints():
    page = ui.build_ui()
    assert isinstance(page, gr.Blocks)
    names = {d.api_name for d in page.fns.values() if d.api_name}
    assert {"recommendation_load_data", "recommendation_train", "recommendation_recommend",
            "recommendation_similar_items", "recommendation_cold_start"} <= names


def test_demo_flow_from_the_page(tmp_path):
    ws, summary, preview, *_ = ui.load_data(ui.DATA_SOURCES[0], None, None, False, None)
    assert "100,000 interactions" in summary and len(preview) == 20
    out = ui.train(["popular", "ease"], ui.PROTOCOLS["temporal"], 10, ws, progress=no_progress)
    ws, table = out[0], out[1]
    assert list(table["model"]) == ["ease", "popular"]  # sorted by NDCG, EASE well ahead
    assert "ease" in out[4]
    recs, history = ui.recommend("1", 5, "ease", ws, progress=no_progress)
    assert len(recs) == 5 and recs["reason"].str.startswith("Because you liked").any()
    assert set(recs["item_id"]).isdisjoint(set(ws.interactions.query("user_id == '1'")["item_id"]))
    sims = ui.similar("Star Wars (1977) [50]", 5, None, ws, progress=no_progress)
    assert "50" not in set(sims["item_id"]) and len(sims) == 5
    cold = ui.cold_start(["Star Wars (1977) [50]", "181"], "", 5, None, ws, progress=no_progress)
    assert len(cold) == 5
    with pytest.raises(gr.Error, match="hybrid"):
        ui.cold_start([], "robots in space", 5, None, ws, progress=no_progress)
    with pytest.raises(gr.Error, match="no history"):
        ui.recommend("not-a-user", 5, None, ws, progress=no_progress)


def test_upload_errors_reach_the_page(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\nu1,i1,great\n")
    with pytest.raises(gr.Error, match="not numbers"):
        ui.load_data(ui.DATA_SOURCES[1], str(bad), None, False, None)
    with pytest.raises(gr.Error, match="Upload an interactions file"):
        ui.load_data(ui.DATA_SOURCES[1], None, None, False, None)
    with pytest.raises(gr.Error, match="Load the demo data"):
        ui.train(["ease"], ui.PROTOCOLS["random"], 10, None, progress=no_progress)


def test_bookshop_upload_all_models(manager):
    """The page's upload example, with every model including the hybrid (real text encoder)."""
    inter, items = (str(ui.EXAMPLES_DIR / n) for n in ("bookshop_interactions.csv", "bookshop_items.csv"))
    ws, summary, *_ = ui.load_data(ui.DATA_SOURCES[1], inter, items, False, None)
    assert "12 items" in summary
    ws.manager = manager
    out = ui.train(["popular", "itemknn", "ease", "bpr", "hybrid"], ui.PROTOCOLS["random"], 5, ws,
                   progress=no_progress)
    assert len(out[1]) == 5
    cold = ui.cold_start([], "a detective story about a crime", 3, "hybrid", ws, progress=no_progress)
    assert {"b05", "b06", "b07"} & set(cold["item_id"]), cold
