"""With no keys and no login the API is open; a full server answers 429 with Retry-After."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from shared_models.types.generation import TINY_MODEL
from tests.support.server import start_server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    # One API request at a time, so a second one while a stream runs is refused.
    srv = start_server(tmp_path_factory.mktemp("api-open"), "--apps", "speech",
                       env={"SPRINGBOARD_API_MAX_CONCURRENT": "1"})  # fmt: skip
    yield srv
    srv.stop()


def test_no_keys_no_login_means_open_like_the_pages(open_server):
    client = openai.OpenAI(base_url=open_server.base + "/v1", api_key="anything", max_retries=0)
    assert client.models.list().data
    usage = httpx.get(open_server.base + "/api/status").json()["api_usage"]
    assert [u["key"] for u in usage] == ["anonymous"]


def test_full_server_answers_429_with_retry_after(open_server):
    client = openai.OpenAI(base_url=open_server.base + "/v1", api_key="x", max_retries=0)
    started, refused = threading.Event(), threading.Event()
    outcome: dict = {}

    def long_stream() -> None:
        stream = client.chat.completions.create(
            model=TINY_MODEL, messages=[{"role": "user", "content": "Tell a long story."}],
            max_tokens=400, temperature=0, stream=True,
        )  # fmt: skip
        for _chunk in stream:
            started.set()
            if refused.is_set():  # seen: hang up rather than sit out 400 tokens
                stream.close()
                break
        outcome["done"] = True

    worker = threading.Thread(target=long_stream)
    worker.start()
    try:
        assert started.wait(120), "the stream never started"
        with pytest.raises(openai.RateLimitError) as caught:
            client.embeddings.create(model="minilm-l6", input="hello")
        assert caught.value.status_code == 429
        assert caught.value.response.headers["retry-after"] == "1"
        assert caught.value.body["type"] == "rate_limit_error"
    finally:
        refused.set()
        worker.join(300)
    assert outcome.get("done")
    # Once the stream is over (here: its client hung up) the slot is free again.
    deadline = time.monotonic() + 60
    while True:
        try:
            assert client.embeddings.create(model="minilm-l6", input="hello").data
            break
        except openai.RateLimitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
