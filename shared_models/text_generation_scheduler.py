"""Continuous (iteration-level) batching: one decode loop per loaded generation model.

Static batching runs a batch to its end: a request that arrives one token after a
batch started waits for its slowest row. Here, as in Orca, vLLM and TGI, the unit
of scheduling is one step:

- each step decodes every active sequence once;
- waiting requests are admitted between steps, their prompts prefilled in chunks of
  ``prefill_chunk`` tokens, one chunk per step, so a long prompt never stalls the
  sequences already decoding; when the prefill ends they join the running batch;
- a finished, stopped or cancelled sequence leaves at once (its KV cache rows too).

Bounds are explicit (``Settings.decoding``): at most ``max_active`` sequences decode
at once and their KV cache may take at most ``kv_cache_bytes`` (prompt plus
``max_new_tokens`` per sequence, reserved at admission so a batch never outgrows it);
others wait, and beyond ``max_waiting`` waiting sequences a request is refused with
``OverloadedError`` (HTTP 429 in the APIs).

The loop runs in its own thread, which alone touches the model: work that must not
overlap a step (perplexity, loading an adapter) runs through ``exclusive`` between
steps. The engine (``TextGenerator``) does the tensor work; this module only decides
what runs when. Under the Ray backend the runner, and so this loop, lives inside the
replica.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from core.errors import InvalidInputError, OverloadedError

if TYPE_CHECKING:
    from .text_generation_batch import DecodeBatch
    from .text_generation_decoding import _Row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeLimits:
    """How many sequences decode at once, how much KV cache they may hold, how prompts are cut."""

    max_active: int = 16
    max_waiting: int = 64
    kv_cache_bytes: int = 1024 * 2**20
    prefill_chunk: int = 256


class Engine(Protocol):
    """The tensor work the scheduler drives (``TextGenerator`` implements it)."""

    kv_bytes_per_token: int

    def admit(self, row: _Row, keep: set[str]) -> None: ...

    def start_prefill(self, rows: list[_Row]) -> Any: ...

    def prefill_step(self, prefill: Any, chunk: int) -> tuple[bool, DecodeBatch | None]: ...

    def decode_step(self, batch: DecodeBatch) -> DecodeBatch | None: ...

    def join(self, running: DecodeBatch | None, joining: DecodeBatch | None) -> DecodeBatch | None: ...

    def idle(self) -> None: ...


class _Job:
    """Work run by the loop thread between steps, with its outcome."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class DecodeScheduler:
    """Admits, prefills, decodes and retires sequences of one model, one step at a time."""

    def __init__(self, engine: Engine, limits: DecodeLimits, name: str = "") -> None:
        self.engine = engine
        self.limits = limits
        self.name = name
        self._cv = threading.Condition()
        self._waiting: deque[_Row] = deque()
        self._jobs: deque[_Job] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Owned by the loop thread; read (racily, for reporting) by stats().
        self._running: DecodeBatch | None = None
        self._prefill: Any = None
        self._prefill_rows: list[_Row] = []
        self._reserved = 0  # KV bytes promised to admitted rows
        self.steps = 0
        self.joined_mid_batch = 0  # rows that joined a batch already decoding
        self.refused = 0  # requests turned away (queue full or shutting down: HTTP 429)

    # ------------------------------------------------------------------ callers
    def generate(self, rows: list[_Row]) -> None:
        """Queue rows and wait until each has its result or its error (``row.error``)."""
        if not rows:
            return
        for row in rows:
            need = self._need(row)
            if need > self.limits.kv_cache_bytes:
                row.error = InvalidInputError(
                    f"This request needs {need / 2**20:.0f} MB of KV cache (prompt of "
                    f"{len(row.prompt_ids)} tokens + {row.request.max_new_tokens} new tokens), more "
                    f"than the {self.limits.kv_cache_bytes / 2**20:.0f} MB allowed "
                    "(settings: decoding.kv_cache_mb). Shorten the prompt or max_new_tokens."
                )
        queued = [r for r in rows if r.error is None]
        with self._cv:
            if self._closed:
                self.refused += len(queued)
                raise OverloadedError(f"{self.name} is shutting down")
            room = self.limits.max_waiting - len(self._waiting)
            self.refused += len(queued[max(room, 0) :])
            for row in queued[max(room, 0) :]:
                row.error = OverloadedError(
                    f"{self.name} has {len(self._waiting)} requests waiting to decode "
                    f"(limit {self.limits.max_waiting}, settings: decoding.max_waiting); try again shortly"
                )
            queued = queued[: max(room, 0)]
            self._waiting.extend(queued)
            self._ensure_thread()
            self._cv.notify_all()
        for row in queued:
            row.done.wait()

    def exclusive(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the loop thread between two steps (nothing else touches the model)."""
        job = _Job(fn)
        with self._cv:
            self._jobs.append(job)
            self._ensure_thread()
            self._cv.notify_all()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def stats(self) -> dict[str, int]:
        """What the loop holds now, against its bounds, and its counters: for the status page."""
        running = self._running
        return {
            "active": len(running.rows) if running is not None else 0,
            "max_active": self.limits.max_active,
            "prefilling": len(self._prefill_rows),
            "waiting": len(self._waiting),
            "max_waiting": self.limits.max_waiting,
            "kv_reserved_mb": self._reserved // 2**20,
            "kv_budget_mb": self.limits.kv_cache_bytes // 2**20,
            "steps": self.steps,
            "joined_mid_batch": self.joined_mid_batch,
            "refused": self.refused,
        }

    def close(self) -> None:
        """Stop the loop after the sequences it holds."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # ------------------------------------------------------------------ loop
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"decode-{self.name}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with torch.inference_mode():
            while True:
                with self._cv:
                    while not (self._waiting or self._jobs or self._running or self._prefill):
                        if self._closed:
                            return
                        self.engine.idle()
                        self._cv.wait()
                    jobs = list(self._jobs)
                    self._jobs.clear()
                for job in jobs:
                    self._run_job(job)
                try:
                    if self._prefill is None:
                        self._admit()
                    if self._prefill is not None:
                        self._prefill_once()
                    if self._running is not None:
                        self._decode_once()
                except BaseException as exc:  # noqa: BLE001 - a bug here must not hang callers
                    log.exception("%s: the decode loop failed; failing the sequences it held", self.name)
                    held = list(self._prefill_rows) + (self._running.rows if self._running else [])
                    self._prefill, self._prefill_rows, self._running = None, [], None
                    self._fail(held, exc)

    def _run_job(self, job: _Job) -> None:
        try:
            job.result = job.fn()
        except BaseException as exc:  # noqa: BLE001 - it belongs to the caller
            job.error = exc
        job.done.set()

    def _admit(self) -> None:
        """Take waiting rows while there is room, and start prefilling them together."""
        running = len(self._running.rows) if self._running is not None else 0
        taken: list[_Row] = []
        with self._cv:
            # A waiting request whose caller went away leaves without taking a place.
            for row in [r for r in self._waiting if r.cancelled]:
                self._waiting.remove(row)
                row.finish("cancelled", "")
                row.done.set()
            while self._waiting and running + len(taken) < self.limits.max_active:
                row = self._waiting[0]
                if self._reserved + self._need(row) > self.limits.kv_cache_bytes and (running or taken):
                    break  # wait for rows to finish and free their share
                self._waiting.popleft()
                self._reserved += self._need(row)
                taken.append(row)
        if not taken:
            return
        keep = self.adapters_in_use(taken)
        ready = []
        for row in taken:
            try:
                self.engine.admit(row, keep)  # cancelled rows finish here; adapters load here
            except InvalidInputError as exc:
                row.error = exc
            if row.error is not None or row.result is not None:
                self._retire(row)
            else:
                ready.append(row)
        if not ready:
            return
        if self._running is not None:
            self.joined_mid_batch += len(ready)
        try:
            self._prefill = self.engine.start_prefill(ready)
            self._prefill_rows = ready
        except BaseException as exc:  # noqa: BLE001
            self._fail(ready, exc)

    def _prefill_once(self) -> None:
        rows = self._prefill_rows
        try:
            done, joined = self.engine.prefill_step(self._prefill, self.limits.prefill_chunk)
        except BaseException as exc:  # noqa: BLE001
            self._prefill, self._prefill_rows = None, []
            self._fail(rows, exc)
            return
        if not done:
            return  # more chunks to go; the running rows decode meanwhile
        self._prefill, self._prefill_rows = None, []
        self._retire_finished(rows)
        try:
            self._running = self.engine.join(self._running, joined)
        except BaseException as exc:  # noqa: BLE001
            both = (self._running.rows if self._running is not None else []) + (joined.rows if joined else [])
            self._running = None
            self._fail(both, exc)

    def _decode_once(self) -> None:
        rows = list(self._running.rows)
        try:
            self._running = self.engine.decode_step(self._running)
        except BaseException as exc:  # noqa: BLE001
            self._running = None
            self._fail(rows, exc)
            return
        self.steps += 1
        self._retire_finished(rows)

    # ------------------------------------------------------------------ bookkeeping
    def _need(self, row: _Row) -> int:
        return (len(row.prompt_ids) + row.request.max_new_tokens) * self.engine.kv_bytes_per_token

    def adapters_in_use(self, taken: list[_Row] | None = None) -> set[str]:
        """Adapters of the rows decoding or prefilling (plus ``taken``): never to be evicted."""
        rows = list(taken or []) + list(self._prefill_rows)
        rows += self._running.rows if self._running is not None else []
        return {r.request.adapter for r in rows if r.request.adapter is not None}

    def _retire_finished(self, rows: list[_Row]) -> None:
        for row in rows:
            if row.result is not None and not row.done.is_set():
                self._retire(row)

    def _retire(self, row: _Row) -> None:
        with self._cv:
            self._reserved -= self._need(row)
        row.done.set()

    def _fail(self, rows: list[_Row], exc: BaseException) -> None:
        log.warning("%s: a decode step failed for %d sequences: %s", self.name, len(rows), exc)
        for row in rows:
            if not row.done.is_set():
                row.error = exc
                self._retire(row)


def _finished(rows: list[_Row]) -> bool:
    return all(r.result is not None for r in rows)
