"""The status page's tables, built from a real manager with real models and a small budget."""

from __future__ import annotations

from apps.status import (
    batch_sizes_frame,
    events_frame,
    metrics_frame,
    models_frame,
    summary_markdown,
)
from core.manager import ModelManager
from core.settings import Settings


def test_a_budget_for_two_models_evicts_the_least_recently_used_and_the_page_shows_it(settings):
    # minilm-l6 (~87 MB), yolov3-tiny (~34 MB), efficientnet-lite0 (~18 MB): 140 MB fits two.
    small = Settings(
        data_dir=settings.data_dir, cache_dir=settings.model_cache_dir, memory_budget_mb=140
    )
    manager = ModelManager(small)
    try:
        manager.handle("embedding").call(["first model"])
        manager.load("yolov3-tiny")
        manager.load("efficientnet-lite0")
        report = manager.report()
        assert sorted(manager.loaded_models()) == ["efficientnet-lite0", "yolov3-tiny"]

        events = events_frame(report)
        evicted = events[events["event"] == "evicted"]
        assert list(evicted["model"]) == ["minilm-l6"]
        assert "efficientnet-lite0" in evicted["detail"].iloc[0]

        models = models_frame(report).set_index("model")
        assert models.loc["minilm-l6", "loaded"] == "no"
        assert models.loc["yolov3-tiny", "loaded"] == "yes"
        assert models.loc["yolov3-tiny", "precision"] == "float32"  # what it computes in
        assert models.loc["minilm-l6", "precision"] == ""  # evicted: nothing to say
        summary = summary_markdown(report)
        assert "140 MB budget" in summary.replace(",", "")
        # The device's dtype is only the default: a language model may run in bfloat16.
        assert "float32 unless a model's precision says otherwise" in summary, summary

        metrics = metrics_frame(report).set_index("model")
        assert metrics.loc["minilm-l6", "requests"] == 1
        assert list(batch_sizes_frame(report)["batch size"]) == ["1"]
    finally:
        manager.close()


def test_the_suite_shows_each_app_component_once(manager):
    from collections import Counter

    from apps.pages import discover_pages
    from apps.server import build_blocks

    pages = discover_pages()
    layout = build_blocks(manager, pages).get_config_file()["layout"]

    def ids(node: dict) -> list[int]:
        return [node["id"], *(i for child in node.get("children", []) for i in ids(child))]

    shown = Counter(ids(layout))
    assert [i for i, n in shown.items() if n > 1] == []
    assert len(shown) > 50 * len(pages), "every app page is in the layout"


def test_the_home_pages_models_table_shows_what_this_process_holds(manager):
    from apps.home import models_table

    manager.handle("embedding").call(["loaded here"])
    table = models_table(manager).set_index("model")
    assert table.loc["minilm-l6", "loaded"] == "yes"
    assert "serving" not in table.columns  # the cluster column is for the Ray backend only


def test_the_status_page_shows_the_generation_loop_while_it_decodes_and_after(manager):
    """The continuous-batching loop's counters from /api/status as a table: a row decoding
    with its KV cache reserved while a stream runs, and the steps it took afterwards."""
    from apps.status import decode_loop_frame, full_report
    from shared_models.types.generation import (
        TINY_MODEL,
        GenerationRequest,
        GenerationResult,
        TextPiece,
    )

    handle = manager.handle(TINY_MODEL)
    handle.call([GenerationRequest(prompt="Warm up", max_new_tokens=2)])
    before = decode_loop_frame(full_report(manager)).set_index("model").loc[TINY_MODEL]
    story = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]
    request = GenerationRequest(messages=story, max_new_tokens=200, temperature=0.0)
    limits = manager.settings.decoding
    with handle.stream(request) as stream:
        # The first piece is sent as the prompt's prefill ends, a moment before the row joins
        # the running batch: read the table as pieces come until it shows the row decoding.
        for piece in stream:
            assert isinstance(piece, TextPiece)
            during = decode_loop_frame(full_report(manager)).set_index("model").loc[TINY_MODEL]
            if during["decoding"] == f"1 of {limits.max_active}":
                break
        stream.cancel()
        result = stream.result(timeout=120)
    assert isinstance(result, GenerationResult) and result.finish_reason == "cancelled"
    after = decode_loop_frame(full_report(manager)).set_index("model").loc[TINY_MODEL]

    assert during["decoding"] == f"1 of {limits.max_active}"
    assert during["waiting"] == f"0 of {limits.max_waiting}"
    reserved, budget = (int(x.replace(",", "")) for x in during["KV cache MB (reserved / budget)"].split(" / "))
    assert budget == limits.kv_cache_mb and 0 < reserved < budget
    assert after["decoding"] == f"0 of {limits.max_active}"
    assert after["KV cache MB (reserved / budget)"] == f"0 / {limits.kv_cache_mb:,}"
    assert after["decode steps"] > before["decode steps"]
    assert after["refused (429)"] == before["refused (429)"] == 0
