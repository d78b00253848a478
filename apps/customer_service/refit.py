"""Refit the confidence calibration in the background once edits pause.

Fitting a knowledge base's calibration embeds a sample of its questions and fits a map,
which takes seconds on a CPU for a few hundred entries. Doing it inside every save made
each edit on the Knowledge base tab (and each REST edit) wait for it, and a burst of edits
refit once per edit. Now an edit asks for a refit; the refit runs in one background thread
``delay`` seconds after the last request, so a burst costs one fit. Until it lands, answers
use the previous calibration (close: one entry changed). If the process stops first, the
stored calibration's revision no longer matches the knowledge base and the next start
refits it, so nothing is lost.

A steady stream of edits (a script saving one entry a second) would otherwise keep a fit
running all the time, and chats would share the CPU with it without pause. So after a fit
the next one waits at least as long as that fit took: refitting takes at most about half
of the time, however fast the edits come. A caller of ``wait`` does not sit out that rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class DebouncedRefit:
    """Runs ``fit`` in a background thread once ``request`` calls pause for ``delay`` s."""

    def __init__(self, fit: Callable[[], object], delay: float, name: str = "calibration-refit") -> None:
        if delay < 0:
            raise ValueError("delay must be 0 or more seconds")
        self._fit, self._delay, self._name = fit, float(delay), name
        self._cond = threading.Condition()
        self._due: float | None = None  # when the next fit may start; None: none asked for
        self._running = False
        self._rest_until = 0.0  # the last fit's end plus its duration (see the module doc)
        self._waiters = 0  # callers in ``wait``: while there are any, no rest
        self._thread: threading.Thread | None = None
        self.fits = 0  # how many fits ran (a burst of requests costs one)
        self.last_error: BaseException | None = None

    def request(self) -> None:
        """Ask for a fit ``delay`` seconds from now (a later request moves it later)."""
        with self._cond:
            rest = 0.0 if self._waiters else self._rest_until
            self._due = max(time.monotonic() + self._delay, rest)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @property
    def pending(self) -> bool:
        """Whether a fit is waiting or running."""
        with self._cond:
            return self._due is not None or self._running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no fit is waiting or running; False if ``timeout`` passed first."""
        with self._cond:
            if self._due is not None:
                self._due = min(self._due, time.monotonic())  # a waiter need not sit out the delay
                self._cond.notify_all()
            self._waiters += 1
            try:
                return self._cond.wait_for(lambda: self._due is None and not self._running, timeout)
            finally:
                self._waiters -= 1

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._due is not None and (left := self._due - time.monotonic()) > 0:
                    self._cond.wait(left)
                if self._due is None:
                    self._thread = None  # under the lock: the next request starts a new thread
                    return
                self._due, self._running = None, True
            started = time.monotonic()
            try:
                self._fit()
                self.last_error = None
            except Exception as exc:  # kept for the page; the old calibration stays in use
                log.exception("background calibration refit failed")
                self.last_error = exc
            finally:
                with self._cond:
                    ended = time.monotonic()
                    self._rest_until = ended + (ended - started)
                    if self._due is not None:  # edits came while it ran
                        self._due = (
                            time.monotonic() if self._waiters else max(self._due, self._rest_until)
                        )
                    self.fits += 1
                    self._running = False
                    self._cond.notify_all()
