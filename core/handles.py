"""Handles: how apps call models.

An app never holds a model object. It holds a handle and calls it with a list of
inputs, getting a list of outputs, either synchronously or with ``await``. The
local handle sends calls through the model's micro-batcher in this process; a
cluster backend (Ray Serve) can implement the same ``ModelHandle`` interface
without any app changing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from .batcher import MicroBatcher
from .errors import InvalidInputError

if TYPE_CHECKING:
    from .manager import ModelManager
    from .registry import ModelSpec

_DONE = object()


class ModelHandle(ABC):
    """The interface every backend implements: batch in, batch out, sync and async."""

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

    def stream(self, item: Any) -> Iterator[str]:
        """Stream text pieces for one input of a streaming role (text generation)."""
        raise InvalidInputError(f"{self.name} does not stream")

    async def astream(self, item: Any) -> AsyncIterator[str]:
        """The async form of ``stream``."""
        iterator = self.stream(item)
        while True:
            piece = await asyncio.to_thread(next, iterator, _DONE)
            if piece is _DONE:
                return
            yield piece

    def close(self) -> None:
        """Release backend resources."""


class LocalHandle(ModelHandle):
    """A handle backed by this process's model manager and a micro-batcher."""

    def __init__(self, manager: ModelManager, spec: ModelSpec) -> None:
        self.name = spec.name
        self.role = spec.role
        self.spec = spec
        self._manager = manager
        settings = manager.settings
        self._batcher = MicroBatcher(
            spec.name,
            self._run_batch,
            max_batch_size=spec.max_batch_size or settings.max_batch_size,
            max_wait_ms=spec.batch_wait_ms if spec.batch_wait_ms is not None else settings.batch_wait_ms,
            metrics=manager.metrics.for_model(spec.name),
        )

    def _run_batch(self, inputs: list[Any]) -> list[Any]:
        with self._manager.use(self.name) as runner:
            return runner(inputs)

    def call(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        return self.submit(inputs, return_exceptions).result()

    async def acall(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        return await asyncio.wrap_future(self.submit(inputs, return_exceptions))

    def submit(self, inputs: list[Any], return_exceptions: bool = False):
        """Queue inputs and return a ``concurrent.futures.Future`` of the outputs."""
        if not isinstance(inputs, list):
            raise InvalidInputError(f"{self.name} takes a list of inputs, got {type(inputs).__name__}")
        return self._batcher.submit(inputs, return_exceptions)

    def stream(self, item: Any) -> Iterator[str]:
        """Stream pieces of one request through the batcher.

        The request is a dataclass with an ``on_text`` callback field (and,
        optionally, a ``cancel`` event). Streams that run at the same time share
        forward passes; each gets only its own pieces. Closing the iterator early
        cancels the request.
        """
        if not self.spec.streams or not dataclasses.is_dataclass(item):
            raise InvalidInputError(f"{self.name} does not stream this input")
        pieces: queue.Queue = queue.Queue()
        changes: dict[str, Any] = {"on_text": pieces.put}
        if hasattr(item, "cancel") and item.cancel is None:
            changes["cancel"] = threading.Event()
        item = dataclasses.replace(item, **changes)
        future = self._batcher.submit([item])
        future.add_done_callback(lambda _f: pieces.put(_DONE))
        try:
            while (piece := pieces.get()) is not _DONE:
                yield piece
            future.result()  # raise the request's own error, if any
        finally:
            cancel = getattr(item, "cancel", None)
            if cancel is not None and not future.done():
                cancel.set()

    def close(self) -> None:
        self._batcher.close()
