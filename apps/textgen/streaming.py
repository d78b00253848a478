"""A running generation as the text generation app sees it: pieces, cancel, result, notices.

It wraps the core's one streaming mechanism, ``handle.stream(request)``: that yields
``TextPiece`` events and then the ``GenerationResult`` (why the text ended, how many
tokens were used). This adds what the app's users need on top: the text so far,
notices about cuts and missing stop sequences, and timings. Streams started at the
same time share the model's batches: the micro-batcher gathers them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from core import ModelHandle
from shared_models.types.generation import GenerationRequest, GenerationResult, TextPiece

from .confidence import TokenConfidence, token_confidences

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
    cancels it. When the request asked for ``logprobs``, ``tokens`` holds each token
    decoded so far with its probability.
    """

    def __init__(
        self, handle: ModelHandle, request: GenerationRequest, notices: list[str] | None = None
    ) -> None:
        self.model = handle.name
        self.request = request
        self.notices: list[str] = list(notices or [])
        self.started = time.perf_counter()
        self.first_piece_at: float | None = None
        self.finished_at: float | None = None
        self._cancelled = threading.Event()
        self._text: list[str] = []
        self._tokens: list[TokenConfidence] = []
        self._events = handle.stream(request)
        self._final: GenerationResult | None = None

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        if self._final is not None:
            raise StopIteration
        event = next(self._events)  # raises the request's own error, if any
        if isinstance(event, TextPiece):
            if self.first_piece_at is None:
                self.first_piece_at = time.perf_counter()
            self._text.append(event.text)
            self._tokens.extend(token_confidences(event.logprobs))
            return event.text
        self._final = event
        held_back = (event.token_logprobs or ())[len(self._tokens) :]  # cut by a stop string
        self._tokens.extend(token_confidences(held_back))
        self.finished_at = time.perf_counter()
        self.notices.extend(finish_notices(self.request, event))
        raise StopIteration

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop generating if still running (what a consumer that walks away does)."""
        if not self._events.done:
            self.cancel()

    def cancel(self) -> None:
        """End the generation early; safe to call from any thread, any number of times."""
        self._cancelled.set()
        self._events.cancel()

    # ------------------------------------------------------------------ outcome
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def done(self) -> bool:
        return self._events.done

    @property
    def tokens(self) -> tuple[TokenConfidence, ...]:
        """Each token decoded so far and its probability (empty unless ``logprobs`` was asked)."""
        return tuple(self._tokens)

    @property
    def text(self) -> str:
        """The text streamed so far."""
        return "".join(self._text)

    @property
    def result(self) -> GenerationResult:
        """Wait for the end and return the outcome (raises the request's error, if any)."""
        result = self._events.result()
        if self.finished_at is None:
            self.finished_at = time.perf_counter()
        return result

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the generation to end; returns whether it has."""
        try:
            self._events.result(timeout)
        except TimeoutError:
            return False
        except Exception:  # noqa: BLE001 - ended with an error: still ended
            return True
        return True

    def consume(self) -> str:
        """Read the rest of the stream and return the whole text."""
        for _ in self:
            pass
        return self.result.text

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
