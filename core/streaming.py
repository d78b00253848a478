"""Streaming across the handle boundary: events out, cancel by request id.

A streamed request is an ordinary request (a plain dataclass with a ``request_id``).
Nothing that lives only in the caller's process rides inside it. Instead:

- the backend gives each streamed request a ``StreamChannel``; the model runner
  emits events into it (``TextPiece`` for text generation) and checks
  ``channel.cancelled`` between steps;
- the caller iterates a ``RequestStream``: the emitted events, then the runner's
  output for that request as the last event (``GenerationResult``);
- cancelling is a call, ``handle.cancel(request_id)`` or ``stream.cancel()``.

That is the shape of Ray Serve's ``DeploymentResponseGenerator`` (iterate, then
``cancel()``), so a cluster backend can implement ``ModelHandle.stream`` the same
way: the replica creates the channel beside the model and yields its events.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .errors import InvalidInputError

_END = object()


class ResultFuture(Protocol):
    """What a stream waits on for its result (a ``concurrent.futures.Future`` or alike)."""

    def result(self, timeout: float | None = None) -> Any: ...

    def done(self) -> bool: ...


class StreamChannel:
    """The backend side of one streamed request: where the runner sends its events."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self._events: queue.Queue[Any] = queue.Queue()
        self._cancelled = threading.Event()

    def emit(self, event: Any) -> None:
        """Send one event to the caller (never blocks)."""
        self._events.put(event)

    @property
    def cancelled(self) -> bool:
        """Whether the caller asked to stop; the runner ends the request soon after."""
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def end(self) -> None:
        """No more events (called by the backend when the request is finished)."""
        self._events.put(_END)

    def next_event(self, timeout: float | None = None) -> Any:
        """The next event, or ``StopIteration`` after ``end()``."""
        event = self._events.get(timeout=timeout)
        if event is _END:
            self._events.put(_END)  # later calls stop too
            raise StopIteration
        return event


class RequestStream(Iterator[Any]):
    """The caller's side of one streamed request.

    Iterate it for the runner's events; the last event is the request's result.
    ``cancel()`` (from any thread, any number of times) ends it early; the stream
    still finishes with a result (for text generation, ``finish_reason="cancelled"``).
    Leaving a ``with`` block, or closing the stream, cancels it if it is still running.
    """

    def __init__(
        self,
        request_id: str,
        channel: StreamChannel,
        future: ResultFuture,
        cancel: Callable[[], Any],
    ) -> None:
        self.request_id = request_id
        self._channel = channel
        self._future = future
        self._cancel = cancel
        self._finished = False

    def __iter__(self) -> RequestStream:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        try:
            return self._channel.next_event()
        except StopIteration:
            self._finished = True
            return self._future.result()  # the result, or the request's own error

    def follow(self, on_event: Callable[[Any], Any]) -> Any:
        """Hand every event to ``on_event`` as it comes, then return the result.

        For long requests whose events are progress reports: the caller passes them
        on and gets the outcome. Leaving early (an exception in ``on_event``) cancels.
        """
        with self:
            while True:
                try:
                    event = self._channel.next_event()
                except StopIteration:
                    self._finished = True
                    return self._future.result()
                on_event(event)

    @property
    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the request to finish and return its result (events are not consumed)."""
        return self._future.result(timeout)

    def cancel(self) -> None:
        """Ask the backend to stop this request early."""
        self._cancel()

    def close(self) -> None:
        """Cancel if still running (what a consumer that walks away does)."""
        if not self._future.done():
            self._cancel()

    def __enter__(self) -> RequestStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_id_of(item: Any) -> str:
    """The ``request_id`` of a streamable request (raises ``InvalidInputError`` if it has none)."""
    request_id = getattr(item, "request_id", None)
    if not isinstance(request_id, str) or not request_id:
        raise InvalidInputError(
            f"{type(item).__name__} cannot be streamed: it needs a non-empty string request_id."
        )
    return request_id
