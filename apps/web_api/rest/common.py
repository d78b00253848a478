"""What every REST module shares: the error body's schema, upload limits and SSE framing.

Errors are raised, not written here: ``core.errors`` exceptions and ``HTTPException``
become ``{"error": {...}}`` bodies in the web API's app-level handlers. Only an error
that happens after a stream has started is written here, as an SSE chunk, because no
handler can change a response whose first bytes have gone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import HTTPException, Request, UploadFile
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import StreamingResponse

from core import get_manager
from core.errors import (
    InvalidInputError,
)
from core.settings import Limits

from ..errors import as_api_error

log = logging.getLogger("springboard.api")

SSE_DONE = "data: [DONE]\n\n"


class ErrorDetail(BaseModel):
    """What went wrong, in OpenAI's error shape."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response under /api/v1."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses, all with the ``ErrorBody`` schema."""
    meaning = {
        400: "Bad input (also a body that fails validation)",
        404: "Unknown id or model",
        409: "The entry changed since it was read",
        413: "Upload or body over the size limit",
        429: "The server is busy; retry after the Retry-After seconds",
    }
    return {s: {"model": ErrorBody, "description": meaning.get(s, "Error")} for s in statuses}


def limits() -> Limits:
    """The suite's explicit limits, read through the process's model manager."""
    return get_manager().settings.limits


def upload_limit_bytes() -> int:
    """The most bytes a request body (upload or JSON) may have: ``limits.max_upload_mb``."""
    return int(limits().max_upload_mb * 1024 * 1024)


def too_large(what: str, size: int) -> HTTPException:
    limit = limits().max_upload_mb
    return HTTPException(
        413,
        f"The {what} is {size / 2**20:,.1f} MB; the limit is {limit:g} MB "
        "(setting limits.max_upload_mb, SPRINGBOARD_LIMITS__MAX_UPLOAD_MB).",
    )


class LimitedBodyRoute(APIRoute):
    """A route that refuses a body whose Content-Length is over the upload limit (413)
    before any of it is read or parsed. Bodies sent without a length (chunked) are
    checked again where they are read (``read_upload``)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Any:
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > upload_limit_bytes():
                raise too_large("request body", int(length))
            return await handler(request)

        return limited


def read_upload(upload: UploadFile, what: str = "upload") -> bytes:
    """The bytes of an uploaded file; 413 over the limit, 400 when empty."""
    limit = upload_limit_bytes()
    upload.file.seek(0)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise too_large(what, len(data))
    if not data:
        raise InvalidInputError(f"The {what} {upload.filename or ''!s} is empty (0 bytes).")
    return data


def not_found(message: str) -> HTTPException:
    return HTTPException(404, message)


# --------------------------------------------------------------------------- streaming
def sse(data: Any) -> str:
    """One server-sent event carrying ``data`` as JSON."""
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def stream_error(exc: BaseException) -> dict[str, Any]:
    """The ``{"error": {...}}`` chunk for an error after the stream started: the same
    mapping as every other API error (``apps.web_api.errors.as_api_error``)."""
    return as_api_error(exc, "a REST stream").body()


def sse_response(
    first: Any,
    rest: Iterator[Any],
    encode: Callable[[Any], Any],
    close: Callable[[], None] | None = None,
) -> StreamingResponse:
    """Stream ``first`` then the items of ``rest`` as SSE chunks, then ``[DONE]``.

    The caller takes ``first`` from the generator before calling this, so an error that
    comes before any output (bad input) is an ordinary error response, not a stream.
    ``close`` runs when the stream ends or the client goes away (it cancels the work).
    """

    async def chunks() -> AsyncIterator[str]:
        try:
            try:
                yield sse(encode(first))
                # Each next() runs in a worker thread: the app APIs block.
                async for item in iterate_in_threadpool(rest):
                    yield sse(encode(item))
            except Exception as exc:  # noqa: BLE001 - told to the client in the stream's shape
                yield sse(stream_error(exc))
            yield SSE_DONE
        finally:  # also when the client goes away mid-stream (the task is cancelled)
            if close is not None:
                close()

    return StreamingResponse(
        chunks(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


SSE_RESPONSE = {
    "description": "With `stream: true`: server-sent events, one `data: {json}` line per "
    'update, an `data: {"error": {...}}` line if it fails midway, then `data: [DONE]`.',
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
