"""SSE framing of the REST streams, including an error after the stream has started."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps.web_api.rest.common import sse_response
from core.errors import InvalidInputError, OverloadedError

from .rest_app import sse_events


def _app(failure: Exception | None, closed: list[bool]) -> TestClient:
    app = FastAPI()

    def rest() -> Iterator[int]:
        yield 2
        if failure is not None:
            raise failure
        yield 3

    @app.get("/stream")
    def stream():
        return sse_response(1, rest(), lambda n: {"n": n}, close=lambda: closed.append(True))

    return TestClient(app, raise_server_exceptions=False)


def test_a_stream_ends_with_done_and_closes_its_work():
    closed: list[bool] = []
    events = sse_events(_app(None, closed).get("/stream").text)
    assert events == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert closed == [True]


def test_an_error_midway_is_an_error_chunk_in_the_api_shape():
    # The same type and code as the error would get before the stream started.
    for failure, kind, code in [
        (InvalidInputError("The prompt is too long."), "invalid_request_error", None),
        (OverloadedError("The queue is full."), "rate_limit_error", "overloaded"),
    ]:
        closed: list[bool] = []
        events = sse_events(_app(failure, closed).get("/stream").text)
        assert events[:2] == [{"n": 1}, {"n": 2}]
        assert events[2] == {
            "error": {"message": str(failure), "type": kind, "param": None, "code": code}
        }
        assert len(events) == 3 and closed == [True]


def test_an_unexpected_error_midway_hides_its_text_and_gives_an_id():
    events = sse_events(_app(RuntimeError("/secret/path in SQL"), []).get("/stream").text)
    message = events[-1]["error"]["message"]
    assert "secret" not in message and "error id" in message
    assert events[-1]["error"]["type"] == "server_error"
