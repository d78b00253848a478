"""Retention: run a clean-up job at start and then daily, on a daemon thread.

What is deleted is the apps' business (``apps.retention`` and
``CustomerServiceBot.apply_retention``); this module only keeps time and removes old files::

    timer = DailyJob("retention", lambda: purge(cutoff(settings.privacy.retention_days)))
    timer.start()      # runs the job now, then every 24 hours, until stop() or exit
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DAY_S = 86400.0


def cutoff(days: float, now: float | None = None) -> float:
    """The timestamp before which data older than ``days`` days was made."""
    return (time.time() if now is None else now) - float(days) * DAY_S


class DailyJob:
    """Calls ``job`` once at ``start()`` and then every ``interval_s`` seconds.

    The thread is a daemon, so it never keeps the process alive; an error in one run is
    logged and the next run still happens. ``runs`` counts finished runs (for tests and the
    status page).
    """

    def __init__(self, name: str, job: Callable[[], Any], interval_s: float = DAY_S) -> None:
        if interval_s <= 0:
            raise ValueError("The interval of a daily job is a positive number of seconds.")
        self.name = name
        self.job = job
        self.interval_s = float(interval_s)
        self.runs = 0
        self.last_result: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"springboard-{name}", daemon=True)

    def start(self) -> DailyJob:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_result = self.job()
            except Exception:  # a bad run must not end the schedule
                log.exception("%s job failed; trying again in %.0f s", self.name, self.interval_s)
            self.runs += 1
            if self.last_result is False:  # the job says its owner is gone
                return
            self._stop.wait(self.interval_s)


def delete_old_files(root: Path, pattern: str, before: float) -> int:
    """Delete the files under ``root`` matching ``pattern`` (a glob, ``**`` allowed) whose
    modification time is before ``before``; then the folders this leaves empty.
    Returns how many files went."""
    root = Path(root)
    if not root.is_dir():
        return 0
    removed = 0
    folders: set[Path] = set()
    for path in root.glob(pattern):
        if path.is_dir():
            folders.add(path)
            for inner in path.rglob("*"):
                if inner.is_file() and _older(inner, before):
                    inner.unlink(missing_ok=True)
                    removed += 1
                elif inner.is_dir():
                    folders.add(inner)
        elif path.is_file() and _older(path, before):
            path.unlink(missing_ok=True)
            removed += 1
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # a folder that still holds new files stays
            folder.rmdir()
    return removed


def _older(path: Path, before: float) -> bool:
    try:
        return path.stat().st_mtime < before
    except FileNotFoundError:
        return False
