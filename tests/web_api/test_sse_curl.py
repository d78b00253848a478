"""SSE framing as curl sees it: ``data: {json}`` events, blank-line separated, ending ``data: [DONE]``."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from shared_models.types.generation import TINY_MODEL

from .conftest import KEYS


def test_curl_streams_well_framed_server_sent_events(api_server):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    body = {"model": TINY_MODEL, "messages": [{"role": "user", "content": "Count to five."}],
            "max_tokens": 12, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    out = subprocess.run(
        [curl, "-sN", "-D", "-", api_server.base + "/v1/chat/completions",
         "-H", f"Authorization: Bearer {KEYS['alice']}", "-H", "Content-Type: application/json",
         "-d", json.dumps(body)],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    head, _, stream = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    assert "content-type: text/event-stream" in head.lower()
    assert stream.endswith("data: [DONE]\n\n")
    events = stream.split("\n\n")[:-1]
    assert all(e.startswith("data: ") and "\n" not in e for e in events), events
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
