"""The app the REST tests drive: the /api/v1 router on a bare FastAPI app, with errors in
the web API's ``{"error": {...}}`` shape.

Until the web API's own handlers (``apps.web_api.errors``, built in parallel) are on this
branch, ``install_error_handlers`` below stands in for them with the same mapping, so
the tests' assertions on status and shape hold with either.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from apps.web_api.rest import build_rest_router
from core.errors import InvalidInputError, OverloadedError, UnknownModelError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def _body(status: int, message: str, param: str | None = None) -> JSONResponse:
    kind = ERROR_TYPES.get(status, "server_error")
    error = {"message": message, "type": kind, "param": param, "code": None}
    return JSONResponse({"error": error}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Stand-in for the web API's handlers: core errors and HTTP errors in OpenAI's shape."""

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError):
        return _body(400, str(exc))

    @app.exception_handler(UnknownModelError)
    async def _unknown(_: Request, exc: UnknownModelError):
        return _body(404, str(exc))

    @app.exception_handler(OverloadedError)
    async def _busy(_: Request, exc: OverloadedError):
        response = _body(429, str(exc))
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return _body(400, f"{param}: {first.get('msg', 'invalid')}", param)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException):
        return _body(exc.status_code, str(exc.detail))


def make_client() -> TestClient:
    """A test client on an app with the REST router (call it after the ``manager`` fixture)."""
    app = FastAPI()
    try:  # the web API's own handlers, once they are on this branch
        from apps.web_api.errors import install_error_handlers as install  # type: ignore
    except ImportError:
        install = install_error_handlers
    install(app)
    app.include_router(build_rest_router())
    return TestClient(app)


def assert_error(response: Any, status: int) -> dict:
    """Check an error response's status and shape; returns its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    return error


def sse_events(text: str) -> list[Any]:
    """The data of each server-sent event, checking the framing: ``data: ...`` blocks
    separated by blank lines, ending with ``data: [DONE]``."""
    assert text.endswith("data: [DONE]\n\n"), text[-200:]
    blocks = text.split("\n\n")
    assert blocks[-1] == ""
    events = []
    for block in blocks[:-1]:
        assert block.startswith("data: ") and "\n" not in block, block
        payload = block.removeprefix("data: ")
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    assert events[-1] == "[DONE]" and "[DONE]" not in events[:-1]
    return events[:-1]
