"""The REST API's OpenAPI document: every route summarised, typed and with its errors."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from apps.web_api.rest import PREFIX, build_rest_router


@pytest.fixture(scope="module")
def doc() -> dict:
    app = FastAPI()
    app.include_router(build_rest_router())
    return app.openapi()  # building it loads no model: nothing is called


def test_every_route_is_under_the_prefix_with_a_summary(doc):
    operations = [(path, op) for path, ops in doc["paths"].items() for op in ops.values()]
    assert len(operations) >= 20
    for path, op in operations:
        assert path.startswith(PREFIX + "/"), path
        assert op.get("summary"), path
        assert op.get("tags"), path
        assert "200" in op["responses"] or "201" in op["responses"] or "204" in op["responses"], (
            path
        )


def test_each_app_has_its_routes(doc):
    paths = set(doc["paths"])
    for expected in [
        "/customer-service/ask",
        "/customer-service/evaluate",
        "/customer-service/entries/{entry_id}",
        "/customer-service/tickets/{ticket_id}",
        "/recommendation/users/{user_id}/recommendations",
        "/recommendation/items/{item_id}/similar",
        "/recommendation/cold-start",
        "/vision/classify",
        "/vision/detect",
        "/vision/similar",
        "/speech/transcriptions",
        "/textgen/templates/{name}/generate",
    ]:
        assert PREFIX + expected in paths, expected


def test_errors_and_bodies_are_documented(doc):
    schemas = doc["components"]["schemas"]
    assert {"error"} == set(schemas["ErrorBody"]["properties"])
    assert {"message", "type", "param", "code"} == set(schemas["ErrorDetail"]["properties"])
    ask = doc["paths"][PREFIX + "/customer-service/ask"]["post"]
    assert ask["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    assert schemas["AskRequest"]["properties"]["question"]["examples"]
    # Image routes take an upload or base64 JSON, and say so.
    body = doc["paths"][PREFIX + "/vision/classify"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "image" in body["application/json"]["schema"]["required"]
    speech = doc["paths"][PREFIX + "/speech/transcriptions"]["post"]
    assert {"text/plain", "text/vtt", "application/x-subrip"} <= set(
        speech["responses"]["200"]["content"]
    )
