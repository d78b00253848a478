"""OpenAI-shaped errors for every API path (``/v1`` and ``/api/v1``).

The body is always ``{"error": {"message", "type", "param", "code"}}``, the shape the
official client (and most OpenAI-compatible tooling) reads. Status codes follow OpenAI:
400 bad input (never FastAPI's 422), 401 no or wrong key, 404 unknown model or path,
413 body too large, 429 overloaded (with ``Retry-After``), 503 model unavailable, 500
anything else. As on the pages (``apps.ui_kit.errors``), a ``SpringboardError`` is
shown as it is; anything else gets a short message with an id that is logged with the
traceback.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.auth import uses_api_keys
from core.errors import (
    InvalidInputError,
    MemoryBudgetError,
    ModelUnavailableError,
    OutOfMemoryError,
    OverloadedError,
    SpringboardError,
    UnknownModelError,
    as_out_of_memory,
)

log = logging.getLogger("springboard.api")

RETRY_AFTER_SECONDS = 1
INTERNAL_ERROR = "Something went wrong on the server (error id {error_id}). It has been logged."


def is_api_path(path: str) -> bool:
    """Whether ``path`` is under one of the API prefixes (``/v1``, ``/api/v1``)."""
    return uses_api_keys(path)


class ApiError(Exception):
    """An error with its HTTP status and OpenAI fields, raised by routes and the key gate."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}  # fmt: skip


def as_api_error(exc: BaseException, where: str = "an API route") -> ApiError:
    """The ``ApiError`` for any exception (call it where the exception was caught)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownModelError):
        return ApiError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, InvalidInputError):
        return ApiError(400, str(exc))
    if isinstance(exc, OverloadedError):
        return ApiError(429, str(exc), type="rate_limit_error", code="overloaded",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
    if isinstance(exc, ModelUnavailableError | MemoryBudgetError | OutOfMemoryError):
        return ApiError(503, str(exc), type="server_error", code="model_unavailable")
    if isinstance(exc, SpringboardError):
        return ApiError(500, str(exc), type="server_error")
    error_id = uuid.uuid4().hex[:10]
    # exc_info=exc: the traceback of this exception even when logged after the except block.
    log.error("Error id %s in %s: %s", error_id, where, type(exc).__name__, exc_info=exc)
    oom = as_out_of_memory(exc)
    if oom is not None:
        return ApiError(
            503, f"{oom} (error id {error_id})", type="server_error", code="out_of_memory"
        )
    return ApiError(500, INTERNAL_ERROR.format(error_id=error_id), type="server_error",
                    code="internal_error")  # fmt: skip


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def sse_error(exc: BaseException, where: str = "a stream") -> str:
    """A mid-stream error as a server-sent event (the official client raises on it)."""
    return f"data: {json.dumps(as_api_error(exc, where).body())}\n\n"


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "The request is not valid.", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    message = first.get("msg", "invalid value")
    more = (
        f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        if len(errors) > 1
        else ""
    )
    return (f"{param}: {message}{more}" if param else f"{message}{more}"), param


def install_error_handlers(app: FastAPI) -> None:
    """OpenAI-shaped errors on API paths; FastAPI's own behaviour everywhere else."""

    async def on_validation(request: Request, exc: RequestValidationError):
        if not is_api_path(request.url.path):
            return await request_validation_exception_handler(request, exc)
        message, param = _validation_message(exc)
        return error_response(ApiError(400, message, param=param))

    async def on_http(request: Request, exc: StarletteHTTPException):
        if not is_api_path(request.url.path):
            return await http_exception_handler(request, exc)
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return error_response(ApiError(exc.status_code, str(exc.detail), type=kind,
                                       headers=dict(exc.headers or {})))  # fmt: skip

    async def on_api_error(request: Request, exc: ApiError):
        return error_response(exc)

    async def on_springboard(request: Request, exc: SpringboardError):
        if not is_api_path(request.url.path):
            raise exc
        return error_response(as_api_error(exc, request.url.path))

    async def on_any(request: Request, exc: Exception):
        # Starlette's ServerErrorMiddleware calls this, then re-raises for the server's log;
        # we log with an id ourselves, so the person can quote it.
        if not is_api_path(request.url.path):
            return PlainTextResponse("Internal Server Error", status_code=500)
        return error_response(as_api_error(exc, request.url.path))

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(SpringboardError, on_springboard)
    app.add_exception_handler(Exception, on_any)
