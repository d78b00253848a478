"""The page toolkit: one error policy, one progress adapter, lazy app objects, charts."""

from __future__ import annotations

import inspect
import logging
import re
import threading
import time

import gradio as gr
import matplotlib.pyplot as plt
import pytest
from gradio.helpers import special_args

from apps.ui_kit import (
    Lazy,
    LazyByKey,
    bars_figure,
    confusion_figure,
    curves_figure,
    page_errors,
    progress_callback,
)
from core.errors import InvalidInputError, ModelUnavailableError


# --------------------------------------------------------------------------- errors
def test_a_users_error_is_shown_as_it_is():
    @page_errors
    def handler(text: str) -> str:
        raise InvalidInputError(f"The message is empty; type a question ({text!r}).")

    with pytest.raises(gr.Error) as caught:
        handler("")
    assert caught.value.message == "The message is empty; type a question ('')."

    @page_errors
    def unavailable() -> None:
        raise ModelUnavailableError("Whisper base is not installed: apt-get install x.")

    with pytest.raises(gr.Error) as caught:
        unavailable()
    assert caught.value.message == "Whisper base is not installed: apt-get install x."


def test_an_internal_error_is_hidden_behind_an_id_that_is_logged(caplog):
    @page_errors
    def handler() -> str:
        raise RuntimeError("secret path /x")

    with caplog.at_level(logging.ERROR, logger="springboard.pages"), pytest.raises(gr.Error) as caught:
        handler()
    shown = caught.value.message
    assert "secret" not in shown and "/x" not in shown and "RuntimeError" not in shown
    error_id = re.search(r"error id ([0-9a-f]{10})", shown).group(1)
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert "handler" in record.getMessage()
    logged = caplog.text
    assert "Traceback" in logged and 'raise RuntimeError("secret path /x")' in logged
    assert "secret path /x" in logged


def test_each_internal_error_gets_its_own_id():
    @page_errors
    def handler() -> None:
        raise KeyError("row 3")

    ids = set()
    for _ in range(2):
        with pytest.raises(gr.Error) as caught:
            handler()
        ids.add(re.search(r"error id (\w+)", caught.value.message).group(1))
    assert len(ids) == 2


def test_a_page_gr_error_passes_through_and_memory_errors_say_so():
    @page_errors
    def handler(kind: str) -> None:
        if kind == "page":
            raise gr.Error("Pick a movie first.")
        raise MemoryError()

    with pytest.raises(gr.Error) as caught:
        handler("page")
    assert caught.value.message == "Pick a movie first."
    with pytest.raises(gr.Error, match="ran out of memory.*error id"):
        handler("memory")


def test_streams_stay_streams_and_fail_by_the_same_policy(caplog):
    @page_errors
    def stream(n: int):
        yield from range(n)
        if n == 2:
            raise InvalidInputError("Stopped: the text is too long.")
        raise OSError("disk /var/secret full")

    assert inspect.isgeneratorfunction(stream)
    seen = []
    with pytest.raises(gr.Error) as caught:
        for value in stream(2):
            seen.append(value)
    assert caught.value.message == "Stopped: the text is too long."
    assert seen == [0, 1]
    with pytest.raises(gr.Error) as caught:
        list(stream(1))
    assert "secret" not in caught.value.message and "disk /var/secret full" in caplog.text


def test_gradio_still_sees_the_progress_and_request_parameters():
    @page_errors
    def handler(text: str, progress=gr.Progress(), request: gr.Request = None) -> str:
        return text

    inputs, progress_index, _, _ = special_args(handler, ["hello"])
    assert progress_index == 1 and isinstance(inputs[1], gr.Progress)
    assert list(inspect.signature(handler).parameters) == ["text", "progress", "request"]


# --------------------------------------------------------------------------- progress
def test_progress_callback_moves_the_bar_and_clamps():
    calls = []
    report = progress_callback(lambda fraction, desc: calls.append((fraction, desc)))
    report(0.5, "half way")
    report(1.0000001, "done")
    report(-0.1, "restart")
    assert calls == [(0.5, "half way"), (1.0, "done"), (0.0, "restart")]
    progress_callback(None)(0.3, "nothing happens")
    progress_callback(gr.Progress())(0.3, "outside an event: a no-op, not an error")


# --------------------------------------------------------------------------- singletons
def test_lazy_makes_one_object_under_16_concurrent_first_calls():
    made = []

    def factory() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first is inside
        made.append(object())
        return made[-1]

    lazy = Lazy(factory)
    start = threading.Barrier(16)
    got: list[object] = []

    def worker() -> None:
        start.wait()
        got.append(lazy())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len(got) == 16 and all(g is made[0] for g in got)
    assert lazy() is made[0]


def test_lazy_tries_again_after_a_failed_factory():
    attempts = []

    def factory() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ModelUnavailableError("not installed yet")
        return "ready"

    lazy = Lazy(factory)
    with pytest.raises(ModelUnavailableError):
        lazy()
    assert lazy() == "ready" and lazy() == "ready" and len(attempts) == 2


def test_lazy_by_key_makes_one_object_per_key_under_concurrency():
    made: list[str] = []

    def factory(key: str) -> tuple[str, object]:
        time.sleep(0.01)
        made.append(key)
        return key, object()

    lazy = LazyByKey(factory)
    start = threading.Barrier(16)
    got: dict[int, tuple] = {}

    def worker(i: int) -> None:
        start.wait()
        got[i] = lazy("tiny" if i % 2 else "base")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == ["base", "tiny"]
    assert len({id(v) for v in got.values()}) == 2


# --------------------------------------------------------------------------- figures
def test_figures_leave_no_pyplot_figure_open_and_render_in_gr_plot():
    plt.close("all")
    figures = [
        confusion_figure([[5, 1, 0], [2, 3, 0], [0, 0, 0]], ["cat", "dog", "bird"], title="t"),
        confusion_figure([[1] * 50 for _ in range(50)], [f"c{i}" for i in range(50)]),
        curves_figure(
            {"loss": {"train": ([1, 2, 3], [0.9, 0.5, 0.4])},
             "accuracy": {"train": ([1, 2, 3], [0.5, 0.7, 0.8]), "held-out": ([1, 2, 3], [0.4, 0.6, 0.7])}},
            ylims={"accuracy": (0, 1.02)},
        ),
        curves_figure({"loss": {}}, empty_message="No loss curve for closed-form models."),
        bars_figure(["cat", "dog"], [0.9, 0.1], percent=True, title="p"),
    ]
    assert plt.get_fignums() == []
    plot = gr.Plot()
    for fig in figures:
        data = plot.postprocess(fig)
        assert data.type == "matplotlib" and data.plot.startswith("data:image/")
        assert len(data.plot) > 2000  # an actual picture, not an empty one
    assert plt.get_fignums() == []


def test_confusion_figure_leaves_out_classes_in_neither_truth_nor_predictions():
    fig = confusion_figure([[5, 1, 0], [2, 3, 0], [0, 0, 0]], ["cat", "dog", "bird"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3", "5"]
