"""The background calibration refit: one fit per burst of edits, errors kept, waits end."""

from __future__ import annotations

import threading
import time

from apps.customer_service.refit import DebouncedRefit


def test_a_burst_of_requests_costs_one_fit_after_the_pause() -> None:
    ran: list[int] = []
    refit = DebouncedRefit(lambda: ran.append(1), delay=60.0)
    for _ in range(5):
        refit.request()
    assert refit.pending and refit.fits == 0  # still inside the pause: nothing fitted yet
    assert refit.wait(timeout=30)  # a waiter brings the fit forward rather than sit out 60 s
    assert refit.fits == 1 and len(ran) == 1 and not refit.pending
    refit.request()  # a later edit gets its own fit, from a new thread
    assert refit.wait(timeout=30) and refit.fits == 2


def test_a_request_during_a_fit_gets_another_fit() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def fit() -> None:
        calls.append(1)
        if len(calls) == 1:
            entered.set()
            release.wait(10)

    refit = DebouncedRefit(fit, delay=0.0)
    refit.request()
    assert entered.wait(10)
    refit.request()  # an edit that the running fit may not have seen
    release.set()
    assert refit.wait(timeout=10)
    assert len(calls) == 2


def test_a_failing_fit_is_kept_and_the_next_one_runs() -> None:
    outcomes = iter([RuntimeError("embedding model gone"), None])

    def fit() -> None:
        error = next(outcomes)
        if error:
            raise error

    refit = DebouncedRefit(fit, delay=0.0)
    refit.request()
    assert refit.wait(timeout=10)
    assert isinstance(refit.last_error, RuntimeError)
    refit.request()
    assert refit.wait(timeout=10) and refit.last_error is None and refit.fits == 2


def test_steady_requests_leave_a_rest_as_long_as_the_last_fit() -> None:
    # Edits that never pause must not keep a fit running all the time: after a fit of
    # 0.3 s, the next starts no sooner than 0.3 s after it ended, so chats get the CPU.
    spans: list[tuple[float, float]] = []

    def fit() -> None:
        started = time.monotonic()
        time.sleep(0.3)
        spans.append((started, time.monotonic()))

    refit = DebouncedRefit(fit, delay=0.01)
    refit.request()
    while not spans:
        time.sleep(0.01)
    refit.request()  # right after the first fit ended
    deadline = time.monotonic() + 5
    while len(spans) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(spans) == 2
    rest = spans[1][0] - spans[0][1]
    assert rest >= 0.29, rest


def test_a_waiter_does_not_sit_out_the_rest() -> None:
    calls: list[float] = []

    def fit() -> None:
        calls.append(time.monotonic())
        time.sleep(0.5)

    refit = DebouncedRefit(fit, delay=0.01)
    refit.request()
    assert refit.wait(timeout=5)
    refit.request()  # its rest would be 0.5 s; wait() asks for it now
    asked = time.monotonic()
    assert refit.wait(timeout=5)
    assert len(calls) == 2 and calls[1] - asked < 0.4, calls[1] - asked
