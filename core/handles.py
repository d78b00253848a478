"""Handles: how apps call models.

An app never holds a model object. It holds a handle and calls it with a list of
inputs, getting a list of outputs, either synchronously or with ``await``; a
streaming role also streams one request's events (``stream``) and cancels by
request id (``cancel``). The local handle sends calls through the model's
micro-batcher in this process; a cluster backend (Ray Serve) can implement the same
``ModelHandle`` interface without any app changing: requests, results and events
are plain, picklable dataclasses (``shared_models.types``), and nothing that only
lives in the caller's process (a callback, an event object) travels with them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .batcher import MicroBatcher
from .errors import InvalidInputError
from .streaming import RequestStream, StreamChannel, request_id_of

if TYPE_CHECKING:
    from .manager import ModelManager
    from .registry import ModelSpec

_DONE = object()


class ModelHandle(ABC):
    """The interface every backend implements: batch in, batch out, sync and async.

    Streaming roles add ``stream`` / ``astream`` (events of one request, then its
    result as the last event) and ``cancel(request_id)``.
    """

    name: str
    role: str

    @abstractmethod
    def call(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        """Run the model on a list of inputs and return the list of outputs.

        A bad input raises its error for the whole call, unless
        ``return_exceptions`` is set: then the exception stands in its place.
        """

    async def acall(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        """The async form of ``call``."""
        return await asyncio.to_thread(self.call, inputs, return_exceptions)

    def stream(self, request: Any) -> RequestStream:
        """Stream one request of a streaming role: its events, then its result last."""
        raise InvalidInputError(f"{self.name} does not stream")

    async def astream(self, request: Any) -> AsyncIterator[Any]:
        """The async form of ``stream``; closing it early cancels the request."""
        stream = self.stream(request)
        try:
            while True:
                event = await asyncio.to_thread(next, stream, _DONE)
                if event is _DONE:
                    return
                yield event
        finally:
            stream.close()

    def cancel(self, request_id: str) -> bool:
        """Ask the backend to end a streaming request early. Returns whether it was running."""
        return False

    def close(self) -> None:
        """Release backend resources."""


@dataclass
class _Streamed:
    """A request travelling through this process's batcher with its event channel."""

    request: Any
    channel: StreamChannel


class LocalHandle(ModelHandle):
    """A handle backed by this process's model manager and a micro-batcher."""

    def __init__(self, manager: ModelManager, spec: ModelSpec) -> None:
        self.name = spec.name
        self.role = spec.role
        self.spec = spec
        self._manager = manager
        self._channels: dict[str, StreamChannel] = {}
        settings = manager.settings
        self._costs = manager.costs.for_model(
            spec.name, spec.role, manager.policy.is_cuda, unwrap=_unwrap_streamed
        )
        self._batcher = MicroBatcher(
            spec.name,
            self._run_batch,
            max_batch_size=spec.max_batch_size or settings.max_batch_size,
            max_wait_ms=spec.batch_wait_ms if spec.batch_wait_ms is not None else settings.batch_wait_ms,
            metrics=manager.metrics.for_model(spec.name),
            costs=self._costs,
            # Each batch in flight waits for its own rows, so up to max_active may be.
            concurrency=(
                settings.decoding.max_active
                if spec.joins_running_batches and settings.decoding.continuous
                else 1
            ),
        )

    def _run_batch(self, items: list[Any]) -> list[Any]:
        inputs = [i.request if isinstance(i, _Streamed) else i for i in items]
        channels = [i.channel if isinstance(i, _Streamed) else None for i in items]
        # Metered inside ``use``: loading the model is not charged to the first request.
        with self._manager.use(self.name) as runner, self._costs.measure():
            if any(channels):
                return runner.run_streams(inputs, channels)
            return runner(inputs)

    def call(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        if _all_direct(inputs):
            return self._call_direct(inputs, return_exceptions)
        return self.submit(inputs, return_exceptions).result()

    async def acall(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        if _all_direct(inputs):
            return await asyncio.to_thread(self._call_direct, inputs, return_exceptions)
        return await asyncio.wrap_future(self.submit(inputs, return_exceptions))

    def submit(self, inputs: list[Any], return_exceptions: bool = False):
        """Queue inputs and return a ``concurrent.futures.Future`` of the outputs."""
        if not isinstance(inputs, list):
            raise InvalidInputError(f"{self.name} takes a list of inputs, got {type(inputs).__name__}")
        return self._batcher.submit(inputs, return_exceptions)

    def _call_direct(self, inputs: list[Any], return_exceptions: bool) -> list[Any]:
        """Answer cheap requests (token counts, model facts) at once, beside any batch running.

        They never wait behind a long generation in the batcher's queue; the runner
        answers them without taking its model lock.
        """
        with self._manager.use(self.name) as runner:
            outputs = list(runner(list(inputs)))
        error = next((o for o in outputs if isinstance(o, BaseException)), None)
        if error is not None and not return_exceptions:
            raise error
        return outputs

    def stream(self, request: Any) -> RequestStream:
        """Stream one request through the batcher.

        Streams that run at the same time share forward passes; each gets only its
        own events. The runner's output for the request is the stream's last event.
        """
        if not self.spec.streams:
            raise InvalidInputError(f"{self.name} does not stream")
        request_id = request_id_of(request)
        channel = StreamChannel(request_id)
        if self._channels.setdefault(request_id, channel) is not channel:
            raise InvalidInputError(f"A request with id {request_id!r} is already streaming.")
        try:
            future = self._batcher.submit([_Streamed(request, channel)])
        except BaseException:
            self._channels.pop(request_id, None)
            raise

        def finished(_future: Any) -> None:
            self._channels.pop(request_id, None)
            channel.end()

        future.add_done_callback(finished)
        # The batcher resolves to a one-element list; the stream's result is that element.
        return RequestStream(request_id, channel, _FirstOf(future), lambda: self.cancel(request_id))

    def cancel(self, request_id: str) -> bool:
        channel = self._channels.get(request_id)
        if channel is None:
            return False
        channel.cancel()
        return True

    def close(self) -> None:
        for channel in list(self._channels.values()):
            channel.cancel()
        self._batcher.close()


def _unwrap_streamed(item: Any) -> Any:
    return item.request if isinstance(item, _Streamed) else item


class _FirstOf:
    """A future's one-element list result, seen as that element (for ``RequestStream``)."""

    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self, timeout: float | None = None) -> Any:
        return self._future.result(timeout)[0]

    def done(self) -> bool:
        return self._future.done()


def _all_direct(inputs: Any) -> bool:
    """Whether every input is a request its role answers at once (``direct = True``)."""
    return (
        isinstance(inputs, list)
        and bool(inputs)
        and all(getattr(type(x), "direct", False) is True for x in inputs)
    )
