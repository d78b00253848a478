"""The micro-batcher: gather concurrent calls to one model into one forward pass.

Callers submit a list of inputs and get a ``Future`` for their own list of
outputs. A worker thread takes the first waiting request, then keeps collecting
for at most ``max_wait_ms`` or until ``max_batch_size`` inputs are gathered, runs
the model once on all of them, and hands each caller its own slice.

A runner that merges new work into the batch it is running (text generation's
continuous batching) gets ``concurrency`` > 1: the worker then hands each gathered
batch to its own thread and goes on gathering, instead of waiting for it to finish.

Fairness: a request larger than ``max_batch_size`` is queued one chunk at a time, and
each chunk goes to the back of the queue when the previous one finishes. A background
job that embeds a whole knowledge base therefore lets a chat's one question through
after at most one chunk, instead of holding the model for the whole job.

Isolation: an output element that is an exception goes to its caller alone. If
the whole batch raises (say, one input crashes the model or memory runs out),
each request is retried on its own so only the guilty caller sees the error.
An allocation failure (``MemoryError``, CUDA OOM, "can't allocate memory") frees
memory first and reaches the caller as ``core.errors.OutOfMemoryError``.
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .costs import ModelCosts, caller
from .errors import OverloadedError, SpringboardError, as_out_of_memory
from .metrics import ModelMetrics

log = logging.getLogger(__name__)


def free_memory() -> None:
    """Collect garbage and return cached CUDA blocks (after an allocation failed)."""
    gc.collect()
    torch = sys.modules.get("torch")  # never import torch just for this
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class _Request:
    inputs: list[Any]
    future: Future
    return_exceptions: bool = False
    submitted: float = field(default_factory=time.perf_counter)
    app: str = ""  # who is charged for it (core.costs.caller)
    counted: bool = True  # False for a large request's chunks before its last one


class MicroBatcher:
    """One worker thread per model that turns concurrent calls into batches."""

    def __init__(
        self,
        name: str,
        run: Callable[[list[Any]], list[Any]],
        *,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 10_000,
        metrics: ModelMetrics | None = None,
        costs: ModelCosts | None = None,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        self._run = run
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait_s = max(0.0, max_wait_ms) / 1000
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_queue)
        self._carry: _Request | None = None
        self._metrics = metrics or ModelMetrics(name)
        self._costs = costs
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        # concurrency > 1: batches run in their own threads, up to that many at once,
        # for runners that merge a new batch into the one they are running.
        self.concurrency = max(1, concurrency)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._in_flight: set[threading.Thread] = set()

    # ------------------------------------------------------------------ callers
    def submit(self, inputs: list[Any], return_exceptions: bool = False) -> Future:
        """Queue a list of inputs; the future resolves to the list of outputs.

        By default a bad input fails the caller's whole request with its error.
        With ``return_exceptions=True`` its exception takes its place in the list
        and the caller keeps every other output.
        """
        if self._closed:
            raise SpringboardError(f"The batcher for {self.name} is closed")
        future: Future = Future()
        if not inputs:
            future.set_result([])
            return future
        app = caller(2) if self._costs is not None else ""
        if len(inputs) > self.max_batch_size:
            _Chunked(self, list(inputs), future, return_exceptions, app).next_chunk()
            return future
        self._put(_Request(list(inputs), future, return_exceptions, app=app))
        return future

    def _put(self, request: _Request) -> None:
        if self._closed:
            raise SpringboardError(f"The batcher for {self.name} is closed")
        self._ensure_worker()
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise OverloadedError(
                f"{self.name} has {self._queue.qsize()} requests waiting; try again shortly"
            ) from None
        self._metrics.queue_changed(+1)

    def __call__(self, inputs: list[Any]) -> list[Any]:
        """Submit and wait."""
        return self.submit(inputs).result()

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._closed = True
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
        for thread in list(self._in_flight):
            thread.join(timeout=30)

    # ------------------------------------------------------------------ worker
    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._loop, name=f"batcher-{self.name}", daemon=True
                )
                self._worker.start()

    def _loop(self) -> None:
        while True:
            first = self._carry or self._queue.get()
            self._carry = None
            if first is None:
                return
            batch = [first]
            size = len(first.inputs)
            deadline = time.perf_counter() + self.max_wait_s
            while size < self.max_batch_size:
                remaining = deadline - time.perf_counter()
                try:
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:  # close() while gathering: finish this batch, then stop
                    self._queue.put(None)
                    break
                if size + len(nxt.inputs) > self.max_batch_size:
                    self._carry = nxt  # starts the next batch; never split a caller's list
                    break
                batch.append(nxt)
                size += len(nxt.inputs)
            self._metrics.queue_changed(-len(batch))
            self._dispatch(batch)

    def _dispatch(self, batch: list[_Request]) -> None:
        """Run a batch here, or (concurrency > 1) in its own thread once a slot is free."""
        if self.concurrency == 1:
            self._execute(batch)
            return
        self._slots.acquire()

        def run() -> None:
            try:
                self._execute(batch)
            finally:
                self._in_flight.discard(threading.current_thread())
                self._slots.release()

        thread = threading.Thread(target=run, name=f"batch-{self.name}", daemon=True)
        self._in_flight.add(thread)
        thread.start()

    def _execute(self, batch: list[_Request]) -> None:
        inputs = [x for req in batch for x in req.inputs]
        started = time.perf_counter()
        meter = self._costs.begin() if self._costs is not None else None
        try:
            outputs = self._run_checked(inputs)
        except BaseException as exc:  # noqa: BLE001 - every error must reach a caller
            if meter is not None:  # its compute is charged; a retry counts the requests
                failed = [(r.app, r.inputs, [exc] * len(r.inputs)) for r in batch]
                self._charge(meter, failed, count=len(batch) == 1)
                del failed  # it holds the exception; the memory path below frees its frames
            oom = as_out_of_memory(exc, self.name)
            if oom is not None:
                # Drop the failed batch's tensors before anyone retries: the traceback
                # holds their frames, so clear it, collect, and empty the CUDA cache.
                exc.__traceback__ = None
                del exc
                free_memory()
                exc = oom
            if len(batch) > 1:
                log.info("batch of %d failed (%s); retrying requests one by one", len(batch), exc)
                for req in batch:
                    self._execute([req])
                return
            self._metrics.record_batch(len(inputs), 1, time.perf_counter() - started)
            self._finish(batch[0], exc)
            return
        self._metrics.record_batch(len(inputs), len(batch), time.perf_counter() - started)
        if meter is not None:
            self._charge(meter, _slices(batch, outputs))
        offset = 0
        for req in batch:
            mine = outputs[offset : offset + len(req.inputs)]
            offset += len(req.inputs)
            error = next((o for o in mine if isinstance(o, BaseException)), None)
            if error is not None and req.return_exceptions:
                self._metrics.record_request(time.perf_counter() - req.submitted, ok=False)
                if req.future.set_running_or_notify_cancel():
                    req.future.set_result(mine)
                continue
            self._finish(req, error if error is not None else mine)

    def _charge(self, meter: Any, parts: list[tuple[str, list, list]], count: bool = True) -> None:
        try:
            self._costs.charge(meter, parts, count)
        except Exception:  # accounting must never fail a request
            log.exception("cost accounting failed for a batch of %s", self.name)

    def _run_checked(self, inputs: list[Any]) -> list[Any]:
        # A batch never holds more than max_batch_size inputs: submit() splits larger
        # requests into chunks (see "Fairness"), which also keeps memory bounded.
        outputs = list(self._run(inputs))
        if len(outputs) != len(inputs):
            raise SpringboardError(
                f"{self.name} returned {len(outputs)} outputs for {len(inputs)} inputs"
            )
        return outputs

    def _finish(self, req: _Request, result: Any) -> None:
        ok = not isinstance(result, BaseException)
        if req.counted or not ok:
            self._metrics.record_request(time.perf_counter() - req.submitted, ok)
        if req.future.set_running_or_notify_cancel():
            if ok:
                req.future.set_result(result)
            else:
                req.future.set_exception(result)


class _Chunked:
    """One large request, fed to the queue a chunk at a time (see "Fairness" above)."""

    def __init__(
        self, batcher: MicroBatcher, inputs: list[Any], future: Future,
        return_exceptions: bool, app: str,
    ) -> None:  # fmt: skip
        self.batcher, self.inputs, self.future = batcher, inputs, future
        self.return_exceptions, self.app = return_exceptions, app
        self.submitted = time.perf_counter()
        self.outputs: list[Any] = []

    def next_chunk(self) -> None:
        """Queue the next chunk; raises (from ``submit``) if the first cannot be queued."""
        start = len(self.outputs)
        size = self.batcher.max_batch_size
        last = start + size >= len(self.inputs)
        part: Future = Future()
        request = _Request(
            self.inputs[start : start + size], part, self.return_exceptions,
            submitted=self.submitted if last else time.perf_counter(),
            app=self.app, counted=last,
        )  # fmt: skip
        part.add_done_callback(self._chunk_done)
        self.batcher._put(request)

    def _chunk_done(self, part: Future) -> None:
        # Runs on the worker thread that finished the chunk; queueing the next chunk here
        # puts it behind whatever arrived while this one ran.
        if self.future.done():  # cancelled by the caller: run no more chunks
            return
        error = part.exception()
        if error is not None:
            self.future.set_exception(error)
            return
        self.outputs.extend(part.result())
        if len(self.outputs) >= len(self.inputs):
            self.future.set_result(self.outputs)
            return
        try:
            self.next_chunk()
        except SpringboardError as exc:  # closed or overloaded between chunks
            self.future.set_exception(exc)


def _slices(batch: list[_Request], outputs: list[Any]) -> list[tuple[str, list[Any], list[Any]]]:
    """Each request's (app, inputs, outputs) of a batch's flat outputs."""
    parts, offset = [], 0
    for req in batch:
        parts.append((req.app, req.inputs, outputs[offset : offset + len(req.inputs)]))
        offset += len(req.inputs)
    return parts
