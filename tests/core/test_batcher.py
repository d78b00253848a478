"""The micro-batcher under concurrency: batching happens, and each caller gets its own answer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.batcher import MicroBatcher
from core.errors import InvalidInputError
from core.metrics import ModelMetrics


class _Square:
    """A batch function that records the batch sizes it saw and rejects negatives per item."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.sizes: list[int] = []

    def __call__(self, inputs: list) -> list:
        self.sizes.append(len(inputs))
        time.sleep(self.delay)  # stands in for a forward pass, so requests pile up
        if any(x == "crash" for x in inputs):
            raise RuntimeError("the whole batch crashed")
        return [InvalidInputError(f"negative: {x}") if x < 0 else x * x for x in inputs]


def _hammer(batcher: MicroBatcher, values: list) -> list:
    barrier = threading.Barrier(len(values))

    def one(v):
        barrier.wait()
        try:
            return ("ok", batcher([v]))
        except Exception as exc:  # noqa: BLE001 - we assert on the exception type below
            return ("err", exc)

    with ThreadPoolExecutor(len(values)) as pool:
        return list(pool.map(one, values))


def test_32_threads_each_get_their_own_result_and_batches_form():
    fn = _Square()
    metrics = ModelMetrics("square")
    batcher = MicroBatcher("square", fn, max_batch_size=16, max_wait_ms=20, metrics=metrics)
    values = list(range(32))
    results = _hammer(batcher, values)
    assert results == [("ok", [v * v]) for v in values]
    assert max(fn.sizes) > 1, "concurrent calls should share forward passes"
    assert max(fn.sizes) <= 16
    snap = metrics.snapshot()
    assert snap["requests"] == 32 and snap["items"] == 32 and snap["errors"] == 0
    batcher.close()


def test_errors_go_only_to_their_caller():
    fn = _Square()
    batcher = MicroBatcher("square", fn, max_batch_size=64, max_wait_ms=20)
    values = [v if v % 4 else -v - 1 for v in range(32)]  # every 4th is negative
    results = _hammer(batcher, values)
    for v, (kind, payload) in zip(values, results, strict=True):
        if v < 0:
            assert kind == "err" and isinstance(payload, InvalidInputError)
            assert str(v) in str(payload)
        else:
            assert (kind, payload) == ("ok", [v * v])
    batcher.close()


def test_a_crashing_input_is_isolated_by_retrying_requests_alone():
    fn = _Square()
    batcher = MicroBatcher("square", fn, max_batch_size=64, max_wait_ms=30)
    values: list = list(range(31)) + ["crash"]
    results = _hammer(batcher, values)
    assert results[-1][0] == "err" and "crashed" in str(results[-1][1])
    assert [r for r in results[:-1]] == [("ok", [v * v]) for v in range(31)]
    batcher.close()


def test_a_large_request_is_run_in_chunks_and_keeps_order():
    fn = _Square(delay=0)
    batcher = MicroBatcher("square", fn, max_batch_size=8, max_wait_ms=1)
    assert batcher(list(range(20))) == [v * v for v in range(20)]
    assert max(fn.sizes) <= 8
    batcher.close()


def test_a_small_request_is_served_between_the_chunks_of_a_large_one():
    # A background job (a knowledge base's calibration) must not hold the model for its
    # whole length: a chat's question that arrives meanwhile waits one chunk at most.
    order: list[str] = []
    first_chunk_started = threading.Event()

    def run(inputs: list) -> list:
        order.append("small" if inputs == ["q"] else f"chunk{inputs[0] // 8}")
        first_chunk_started.set()
        time.sleep(0.02)
        return [x if x == "q" else x * 2 for x in inputs]

    batcher = MicroBatcher("fair", run, max_batch_size=8, max_wait_ms=1)
    metrics = batcher._metrics
    big = batcher.submit(list(range(80)))
    assert first_chunk_started.wait(5)
    assert batcher(["q"]) == ["q"]
    assert not big.done()  # the small one finished while the large one still ran
    assert big.result(timeout=10) == [v * 2 for v in range(80)]
    assert order.index("small") <= 2, order
    assert sorted(o for o in order if o != "small") == sorted(f"chunk{i}" for i in range(10))
    assert metrics.snapshot()["requests"] == 2  # the large request counts once
    batcher.close()


def test_a_failing_chunk_fails_the_large_request_and_stops_it():
    calls: list[int] = []

    def run(inputs: list) -> list:
        calls.append(inputs[0])
        if 16 in inputs:
            raise InvalidInputError("bad chunk")
        return inputs

    batcher = MicroBatcher("chunks", run, max_batch_size=8, max_wait_ms=1)
    with pytest.raises(InvalidInputError, match="bad chunk"):
        batcher(list(range(40)))
    assert calls == [0, 8, 16]  # nothing after the failing chunk ran
    batcher.close()


def test_empty_request_returns_empty_list():
    batcher = MicroBatcher("square", _Square(), max_batch_size=8)
    assert batcher([]) == []


def test_wrong_output_length_is_an_error_not_a_misalignment():
    batcher = MicroBatcher("bad", lambda xs: xs[:-1], max_batch_size=8, max_wait_ms=1)
    with pytest.raises(Exception, match="returned 1 outputs for 2 inputs"):
        batcher([1, 2])


def test_return_exceptions_keeps_the_good_outputs_of_a_mixed_request():
    batcher = MicroBatcher("square", _Square(delay=0), max_batch_size=8, max_wait_ms=1)
    out = batcher.submit([2, -1, 3], return_exceptions=True).result()
    assert out[0] == 4 and out[2] == 9
    assert isinstance(out[1], InvalidInputError)
    with pytest.raises(InvalidInputError):
        batcher([2, -1, 3])
    batcher.close()


def test_with_concurrency_a_new_batch_starts_while_the_last_still_runs():
    # The runner of a continuously batched model keeps a batch "running" until its rows
    # finish; the batcher must hand it the next batch meanwhile, and bound how many.
    release, started = threading.Event(), threading.Event()

    def slow_first(inputs: list) -> list:
        if inputs == ["first"]:
            started.set()
            release.wait(timeout=30)
        return [f"{x}!" for x in inputs]

    batcher = MicroBatcher("joins", slow_first, max_wait_ms=1, concurrency=2)
    first = batcher.submit(["first"])
    assert started.wait(timeout=30)  # the first batch is running
    second = batcher.submit(["second"])
    assert second.result(timeout=30) == ["second!"]  # it did not wait for the first
    assert not first.done()
    third = batcher.submit(["third"])  # two in flight at most: the first holds one slot
    assert third.result(timeout=30) == ["third!"]
    release.set()
    assert first.result(timeout=30) == ["first!"]
    batcher.close()


def test_without_concurrency_batches_run_one_after_another():
    release, started = threading.Event(), threading.Event()

    def slow_first(inputs: list) -> list:
        if inputs == ["first"]:
            started.set()
            release.wait(timeout=30)
        return inputs

    batcher = MicroBatcher("static", slow_first, max_wait_ms=1)
    first = batcher.submit(["first"])
    assert started.wait(timeout=30)
    second = batcher.submit(["second"])
    assert not second.done()
    release.set()
    assert first.result(timeout=30) == ["first"] and second.result(timeout=30) == ["second"]
    batcher.close()
