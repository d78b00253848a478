"""What each request costs (core.costs): real calls of each role move the right counters."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core import cost_scope
from core.costs import (
    CostLedger,
    OverlapClock,
    Prices,
    Usage,
    caller,
    item_usage,
    split_weights,
)
from core.settings import Settings
from shared_models.types.embedding import DEFAULT_MODEL as EMBEDDING
from shared_models.types.generation import TINY_MODEL, GenerationRequest, GenerationResult
from shared_models.types.speech import FAST_MODEL, SAMPLE_RATE, TranscriptionRequest
from shared_models.types.vision import ClassifyRequest, DetectRequest
from tests.support.debian import require_debian_package

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def _gen(prompt: str, tokens: int) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, max_new_tokens=tokens, temperature=0.0)


# ------------------------------------------------------------------ rules, no model
def test_generation_shares_follow_tokens_and_failed_inputs_get_none() -> None:
    units = [
        Usage(items=1, tokens_in=10, tokens_out=30),
        Usage(items=1, tokens_in=10, tokens_out=70),
    ]
    assert split_weights(units) == pytest.approx([40 / 120, 80 / 120])
    assert split_weights([Usage(items=1), Usage(items=1, errors=1), Usage(items=1)]) == [
        0.5,
        0,
        0.5,
    ]
    assert split_weights([Usage(items=1, errors=1)] * 4) == [0.25] * 4
    assert split_weights([]) == []


def test_overlapping_spans_split_the_clock_and_sum_to_its_advance() -> None:
    now = [0.0]
    clock = OverlapClock(lambda: now[0])
    a = clock.open()
    now[0] = 1.0  # a alone: 1 s
    b = clock.open()
    now[0] = 3.0  # a and b together: 2 s, 1 each
    a_s = clock.close(a)
    now[0] = 4.0  # b alone: 1 s
    b_s = clock.close(b)
    assert (a_s, b_s) == (2.0, 2.0)
    assert a_s + b_s == 4.0  # the clock advanced 4 s while a span was open


def test_item_units_per_role() -> None:
    clip = np.zeros(SAMPLE_RATE * 3, dtype=np.float32)
    result = GenerationResult("hi", prompt_tokens=5, new_tokens=2, finish_reason="length")
    assert item_usage(_gen("x", 2), result).tokens_in == 5
    assert item_usage(_gen("x", 2), result).tokens_out == 2
    assert item_usage(TranscriptionRequest(clip), object()).audio_seconds == 3.0
    assert item_usage(ClassifyRequest(b"img"), object()).images == 1
    assert item_usage(DetectRequest(b"img"), object()).images == 1
    failed = item_usage(TranscriptionRequest(clip), ValueError("bad"))
    assert (failed.errors, failed.audio_seconds) == (1, 0.0)


def test_the_caller_is_the_calling_package_unless_a_scope_names_it() -> None:
    assert caller() == "tests.core"
    with cost_scope("web_api:key-7"):
        assert caller() == "web_api:key-7"
        assert asyncio.run(asyncio.to_thread(caller)) == "web_api:key-7"  # threads inherit it
    assert caller() == "tests.core"
    with pytest.raises(ValueError), cost_scope(""):
        pass


def test_prices_come_from_settings_and_price_gpu_models_by_gpu_time(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SPRINGBOARD_COST__CPU_HOUR_PRICE", "0.36")
    monkeypatch.setenv("SPRINGBOARD_COST__GPU_HOUR_PRICE", "7.2")
    monkeypatch.setenv("SPRINGBOARD_COST__CURRENCY", "EUR")
    prices = Prices.from_settings(Settings(data_dir=tmp_path))
    assert prices == Prices(cpu_hour=0.36, gpu_hour=7.2, currency="EUR")
    ledger = CostLedger(prices)
    ledger.record("a", "cpu-model", "embedding", False, Usage(requests=1, cpu_seconds=10.0))
    ledger.record(
        "a", "gpu-model", "generation", True, Usage(requests=1, cpu_seconds=5, gpu_seconds=1)
    )
    by_model = {row["model"]: row for row in ledger.totals("model")}
    assert by_model["cpu-model"]["cost"] == pytest.approx(10 * 0.36 / 3600)
    assert by_model["gpu-model"]["cost"] == pytest.approx(
        1 * 7.2 / 3600
    )  # host CPU is in the GPU price
    assert ledger.report()["total"]["cost"] == pytest.approx((10 * 0.36 + 7.2) / 3600)
    assert ledger.report()["total"]["currency"] == "EUR"


def test_csv_export_parses_back_to_the_ledger(manager) -> None:
    ledger = CostLedger(Prices(cpu_hour=1.0))
    ledger.record(
        "apps.speech",
        "whisper-base",
        "speech",
        False,
        Usage(requests=2, items=2, cpu_seconds=1.5, audio_seconds=60),
    )
    ledger.record(
        "apps.vision",
        "yolov3-tiny",
        "detection",
        False,
        Usage(requests=1, items=3, cpu_seconds=0.25, images=3),
    )
    rows = list(csv.DictReader(io.StringIO(ledger.to_csv())))
    assert [(r["app"], r["model"]) for r in rows] == [
        ("apps.speech", "whisper-base"),
        ("apps.vision", "yolov3-tiny"),
    ]
    assert float(rows[0]["audio_seconds"]) == 60.0 and int(rows[1]["images"]) == 3
    assert float(rows[0]["cost"]) == pytest.approx(1.5 / 3600)
    assert rows[0]["hour"].endswith(":00Z") and rows[0]["currency"] == "USD"


# ------------------------------------------------------------------ real calls
def _usage(manager, app: str, model: str) -> Usage:
    return manager.costs.usage(app=app, model=model)


def test_generation_tokens_equal_the_results_counts(manager) -> None:
    handle = manager.handle(TINY_MODEL)
    with cost_scope("test-generation"):
        results = handle.call([_gen("The capital of France is", 6), _gen("One, two,", 4)])
    used = _usage(manager, "test-generation", TINY_MODEL)
    assert used.requests == 1 and used.items == 2 and used.errors == 0
    assert used.tokens_in == sum(r.prompt_tokens for r in results)
    assert used.tokens_out == sum(r.new_tokens for r in results)
    assert used.cpu_seconds > 0
    assert (used.gpu_seconds > 0) == manager.policy.is_cuda  # GPU seconds only on a GPU


def test_a_stream_is_charged_its_tokens(manager) -> None:
    handle = manager.handle(TINY_MODEL)
    with cost_scope("test-stream"), handle.stream(_gen("Once upon a time", 5)) as events:
        result = list(events)[-1]
    used = _usage(manager, "test-stream", TINY_MODEL)
    assert (used.tokens_in, used.tokens_out) == (result.prompt_tokens, result.new_tokens)
    assert used.requests == 1 and used.cpu_seconds > 0


def test_without_a_scope_the_calling_package_is_charged(manager) -> None:
    before = _usage(manager, "tests.core", EMBEDDING)
    manager.handle("embedding").call(["Where is my parcel?", "Refund policy"])
    after = _usage(manager, "tests.core", EMBEDDING)
    assert after.requests - before.requests == 1
    assert after.items - before.items == 2
    assert after.cpu_seconds > before.cpu_seconds


def test_audio_seconds_equal_the_clips_duration(manager) -> None:
    transcription = LIBRIVOX / "transcription"
    require_debian_package("pocketsphinx-testdata", transcription.is_file(), "LibriVox read speech")
    clip_id = transcription.read_text().splitlines()[0].rpartition("(")[2].strip(" )")
    samples, rate = sf.read(LIBRIVOX / f"{clip_id}.wav", dtype="float32")
    assert rate == SAMPLE_RATE, "the LibriVox test clips are 16 kHz"
    with cost_scope("test-speech"):
        (result,) = manager.handle(FAST_MODEL).call([TranscriptionRequest(samples, language="en")])
    assert result.text.strip()
    used = _usage(manager, "test-speech", FAST_MODEL)
    assert used.audio_seconds == pytest.approx(len(samples) / SAMPLE_RATE)
    assert used.audio_seconds > 1 and used.cpu_seconds > 0


def test_each_image_is_counted(manager) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(3)]
    with cost_scope("test-vision"):
        manager.handle("classification").call([ClassifyRequest(i, top_k=1) for i in images])
    used = _usage(manager, "test-vision", manager.handle("classification").name)
    assert (used.requests, used.images, used.errors) == (1, 3, 0)
    assert used.cpu_seconds > 0


def test_a_shared_batch_is_split_by_tokens_and_the_shares_sum_to_the_batch(manager) -> None:
    handle = manager.handle(TINY_MODEL)
    # Queued within one batching window (or behind the first request while it runs),
    # team-a's and team-b's requests share a batch.
    with cost_scope("team-first"):
        first = handle.submit([_gen("Write a long story about a ship.", 24)])
    with cost_scope("team-a"):
        a = handle.submit([_gen("Hello", 2)])
    with cost_scope("team-b"):
        b = handle.submit([_gen("Once upon a time there was a", 20)])
    first.result()
    (ra,), (rb,) = a.result(), b.result()
    charge = next(
        c for c in reversed(handle._costs.recent) if {"team-a", "team-b"} <= dict(c.parts).keys()
    )
    shares = dict(charge.parts)
    assert sum(u.cpu_seconds for _, u in charge.parts) == pytest.approx(charge.cpu_seconds)
    assert charge.cpu_seconds > 0
    weight_a = ra.prompt_tokens + ra.new_tokens
    weight_b = rb.prompt_tokens + rb.new_tokens
    assert shares["team-a"].cpu_seconds / shares["team-b"].cpu_seconds == pytest.approx(
        weight_a / weight_b
    )


def test_a_refused_input_is_an_error_with_no_share(manager) -> None:
    handle = manager.handle(TINY_MODEL)
    with cost_scope("test-refused"):
        good, bad = handle.call([_gen("Hi", 2), GenerationRequest()], return_exceptions=True)
    assert isinstance(bad, Exception) and isinstance(good, GenerationResult)
    used = _usage(manager, "test-refused", TINY_MODEL)
    assert (used.requests, used.items, used.errors) == (1, 2, 1)
    assert used.tokens_out == good.new_tokens


def test_the_status_page_shows_costs_per_app_model_and_hour(manager, tmp_path) -> None:
    import gradio as gr

    from apps.status import cost_frame, costs_csv_file, costs_markdown, full_report, render_status

    with cost_scope("test-status"):
        manager.handle("embedding").call(["status page"])
    report = full_report(manager)
    apps = cost_frame(report, "app").set_index("app")
    assert apps.loc["test-status", "requests"] == 1
    assert "cost (USD)" in apps.columns and "per 1,000 requests (USD)" in apps.columns
    assert EMBEDDING in set(cost_frame(report, "model")["model"])
    hours = cost_frame(report, "hour")
    assert ((hours["app"] == "test-status") & (hours["model"] == EMBEDDING)).any()
    assert "CPU core-hour" in costs_markdown(report)

    rows = list(csv.DictReader(costs_csv_file(manager, tmp_path).open(encoding="utf-8")))
    assert any(r["app"] == "test-status" and r["model"] == EMBEDDING for r in rows)

    with gr.Blocks() as page:
        render_status(manager, page)
    config = page.get_config_file()
    texts = [str(c.get("props", {}).get("value", "")) for c in config["components"]]
    assert any("Cost: what the requests used" in t for t in texts)
    assert any(
        c.get("props", {}).get("value") == "Export costs as CSV" for c in config["components"]
    )


def test_a_crashed_batch_is_charged_once_and_its_retries_count_the_requests() -> None:
    import threading

    from core.batcher import MicroBatcher

    ledger = CostLedger(Prices(cpu_hour=1.0))
    costs = ledger.for_model("toy", "toy", on_gpu=False)
    gate, holding = threading.Event(), threading.Event()

    def run(items: list[str]) -> list[object]:  # a runner that crashes on a mixed batch
        with costs.measure():
            if items == ["hold"]:
                holding.set()
                gate.wait(30)
            sum(i * i for i in range(200_000))  # real CPU work to charge
            if "boom" in items and len(items) > 1:
                raise RuntimeError("the batch crashed")
            return [ValueError("bad input") if i == "boom" else i.upper() for i in items]

    batcher = MicroBatcher("toy", run, max_wait_ms=0, costs=costs)
    try:
        with cost_scope("holder"):
            held = batcher.submit(["hold"])  # keeps the worker busy while the next two queue
        assert holding.wait(30)
        with cost_scope("team-a"):
            a = batcher.submit(["x"])
        with cost_scope("team-b"):
            b = batcher.submit(["boom"], return_exceptions=True)
        gate.set()
        assert held.result() == ["HOLD"] and a.result() == ["X"]
        assert isinstance(b.result()[0], ValueError)
    finally:
        batcher.close()
    crashed, retry_a, retry_b = list(costs.recent)[1:]
    assert {app for app, _ in crashed.parts} == {"team-a", "team-b"}
    assert all(u.requests == 0 and u.cpu_seconds > 0 for _, u in crashed.parts)
    for app, errors in (("team-a", 0), ("team-b", 1)):
        used = ledger.usage(app=app)
        assert (used.requests, used.items, used.errors) == (1, 1, errors)
    charged = sum(c.cpu_seconds for c in costs.recent)
    assert ledger.usage().cpu_seconds == pytest.approx(charged)
