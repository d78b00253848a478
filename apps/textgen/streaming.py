"""A running generation: iterate it for text pieces, cancel it, then read its result.

``handle.stream`` yields only the pieces; the app also needs to know why the text
ended (a stop sequence, the token limit, the model's end of turn, a cancel) and how
many tokens were used, so each stream sends its request through ``handle.call`` on
a worker thread with its own ``on_text`` queue and cancel event. Streams started
at the same time still share the model's batches: the micro-batcher gathers them.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from core.handles import ModelHandle
from shared_models.text_generation import GenerationRequest, GenerationResult

_DONE = object()

FINISH_WORDS = {
    "eos": "the model ended its answer",
    "stop": "a stop sequence was reached",
    "length": "the max new tokens limit was reached",
    "cancelled": "cancelled",
}


class TextStream(Iterator[str]):
    """Pieces of generated text as they are produced.

    ``for piece in stream`` yields text; ``cancel()`` (any thread, any number of
    times) ends it early; ``result`` waits for and returns the ``GenerationResult``;
    ``notices`` lists what the user should know (a prompt that was cut, stop
    sequences that never appeared). Leaving a ``with`` block or closing the stream
    cancels it.
    """

    def __init__(
        self, handle: ModelHandle, request: GenerationRequest, notices: list[str] | None = None
    ) -> None:
        self.model = handle.name
        self.notices: list[str] = list(notices or [])
        self.started = time.perf_counter()
        self.first_piece_at: float | None = None
        self.finished_at: float | None = None
        self._pieces: queue.Queue[Any] = queue.Queue()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._result: GenerationResult | None = None
        self._error: BaseException | None = None
        self._text: list[str] = []
        self.request = dataclasses.replace(request, on_text=self._pieces.put, cancel=self._cancel)
        self._thread = threading.Thread(
            target=self._run, args=(handle,), name=f"textgen-stream-{id(self):x}", daemon=True
        )
        self._thread.start()

    def _run(self, handle: ModelHandle) -> None:
        try:
            self._result = handle.call([self.request])[0]
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            self.finished_at = time.perf_counter()
            self._done.set()
            self._pieces.put(_DONE)

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        piece = self._pieces.get()
        if piece is _DONE:
            self._pieces.put(_DONE)  # later calls stop too
            if self._error is not None:
                raise self._error
            self._add_finish_notices()
            raise StopIteration
        if self.first_piece_at is None:
            self.first_piece_at = time.perf_counter()
        self._text.append(piece)
        return piece

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop generating if still running (what a consumer that walks away does)."""
        if not self._done.is_set():
            self._cancel.set()

    def cancel(self) -> None:
        """End the generation early; safe to call from any thread, any number of times."""
        self._cancel.set()

    # ------------------------------------------------------------------ outcome
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def text(self) -> str:
        """The text streamed so far."""
        return "".join(self._text)

    @property
    def result(self) -> GenerationResult:
        """Wait for the end and return the outcome (raises the request's error, if any)."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def consume(self) -> str:
        """Read the rest of the stream and return the whole text."""
        for _ in self:
            pass
        return self.result.text

    def _add_finish_notices(self) -> None:
        result = self.result
        if getattr(self, "_finish_noted", False):
            return
        self._finish_noted = True
        self.notices.extend(finish_notices(self.request, result))

    def stats(self) -> dict[str, Any]:
        """Token counts and timings (seconds) of a finished stream."""
        result = self.result
        end = self.finished_at or time.perf_counter()
        first = (self.first_piece_at - self.started) if self.first_piece_at else None
        return {
            "model": self.model,
            "prompt_tokens": result.prompt_tokens,
            "new_tokens": result.new_tokens,
            "finish_reason": result.finish_reason,
            "seconds": end - self.started,
            "first_piece_seconds": first,
            "tokens_per_second": result.new_tokens / (end - self.started)
            if end > self.started
            else 0.0,
        }


def finish_notices(request: GenerationRequest, result: GenerationResult) -> list[str]:
    """What to tell the user about how a generation ended."""
    notices = []
    if result.prompt_truncated:
        notices.append(
            f"The prompt did not fit in the model's context; its oldest part was dropped "
            f"({result.prompt_tokens:,} tokens were used)."
        )
    if request.stop and result.finish_reason in ("eos", "length"):
        shown = ", ".join(repr(s) for s in request.stop)
        notices.append(
            f"None of the stop sequences ({shown}) appeared; the text ended because "
            f"{FINISH_WORDS[result.finish_reason]}."
        )
    elif result.finish_reason == "length":
        notices.append(
            f"The text stopped at the max new tokens limit ({request.max_new_tokens}); "
            "raise it for a longer answer."
        )
    return notices
