"""One error policy for every page handler.

A ``SpringboardError`` (``InvalidInputError``, ``ModelUnavailableError``...) is written
for the person at the page, so it is shown as it is. Anything else is a bug or an
environment failure whose text may hold paths, SQL or a library's internals: the page
gets a short generic message with an error id, and the log gets the id with the full
traceback, so the person can quote the id and the operator can find the cause.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from core.errors import SpringboardError, as_out_of_memory

from .language import tr, tr_text

log = logging.getLogger("springboard.pages")

F = TypeVar("F", bound=Callable[..., Any])

INTERNAL_ERROR = (
    "Something went wrong on the server (error id {error_id}). It has been logged; please "
    "try again, and quote this id if it keeps happening."
)


def _new_error_id() -> str:
    return uuid.uuid4().hex[:10]


def page_error(exc: BaseException, where: str = "a page handler") -> gr.Error:
    """The ``gr.Error`` to show for ``exc`` (call it inside the ``except`` block).

    ``gr.Error`` passes through; a ``SpringboardError`` shows its own message; an
    allocation failure shows the typed out-of-memory message; anything else shows
    ``INTERNAL_ERROR`` with an id that is logged with the traceback.
    """
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, SpringboardError):  # in the viewer's language where the table knows it
        return gr.Error(tr_text(str(exc)), print_exception=False)
    error_id = _new_error_id()
    # exc_info=exc: the traceback of this exception even when called after the except block.
    log.error("Error id %s in %s: %s", error_id, where, type(exc).__name__, exc_info=exc)
    oom = as_out_of_memory(exc)
    if oom is not None:
        return gr.Error(f"{tr_text(str(oom))} (error id {error_id})", print_exception=False)
    return gr.Error(tr(INTERNAL_ERROR, error_id=error_id), print_exception=False)


def page_errors(fn: F) -> F:
    """Decorate a Gradio handler (a function or a generator) with the error policy.

    The wrapper keeps the handler's signature (``functools.wraps``), so Gradio still
    finds its ``gr.Progress`` default and ``gr.Request`` parameter, and a generator stays
    a generator, so streaming outputs still stream.
    """
    where = f"{fn.__module__}.{fn.__qualname__}"
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from fn(*args, **kwargs))
            except Exception as exc:  # GeneratorExit (a cancelled stream) is not an Exception
                raise page_error(exc, where) from exc

        return stream  # type: ignore[return-value]
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"page_errors wraps sync handlers; {where} is async.")

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise page_error(exc, where) from exc

    return call  # type: ignore[return-value]
