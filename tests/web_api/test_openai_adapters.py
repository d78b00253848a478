"""LoRA adapters through the OpenAI API: the model id ``<base>:<adapter>``, with the real client.

The session's adapter (``lora_adapter``: 8 real steps on the tiny model) is copied into
the API server's data folder, as if it had been trained on that server's page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openai
import pytest
from openai.types import Model
from openai.types.chat import ChatCompletion

from shared_models.types.generation import TINY_MODEL, GenerationRequest
from shared_models.types.generation_training import adapters_root
from tests.support.lora import SESSION_ADAPTER, example_chats

MODEL_ID = f"{TINY_MODEL}:{SESSION_ADAPTER}"


@pytest.fixture(scope="module")
def served(lora_adapter, api_server) -> str:
    """The adapter saved in the server's data folder; its model id."""
    target = adapters_root(api_server.env["SPRINGBOARD_DATA_DIR"]) / SESSION_ADAPTER
    if not target.exists():
        shutil.copytree(Path(lora_adapter[0].folder), target)
    return MODEL_ID


def _listing() -> list[dict[str, str]]:
    return example_chats("heldout.jsonl", 1)[0][:-1]  # system + user: a product to describe


def test_adapters_are_listed_as_base_colon_name(client, served) -> None:
    raw = client.models.with_raw_response.list()
    body = json.loads(raw.http_response.text)
    models = {m["id"]: Model.model_validate(m, strict=True) for m in body["data"]}
    assert served in models and TINY_MODEL in models
    entry = next(m for m in body["data"] if m["id"] == served)
    assert entry["parent"] == TINY_MODEL and entry["role"] == "generation"
    assert client.models.retrieve(served).id == served
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(f"{TINY_MODEL}:no-such-adapter")


def test_chat_with_the_adapter_matches_the_core_and_differs_from_the_base(
    client, served, manager
) -> None:
    kwargs = dict(messages=_listing(), max_tokens=40, temperature=0)
    raw = client.chat.completions.with_raw_response.create(model=served, **kwargs)
    tuned = ChatCompletion.model_validate_json(raw.http_response.text, strict=True)
    base = client.chat.completions.create(model=TINY_MODEL, **kwargs)
    assert tuned.model == served and base.model == TINY_MODEL
    text = tuned.choices[0].message.content
    assert text != base.choices[0].message.content
    assert text.lstrip().startswith("{")  # the adapter learned the house JSON format
    # The same request in this process, on the same adapter (the session's data folder).
    same = manager.handle(TINY_MODEL).call([GenerationRequest(
        messages=_listing(), max_new_tokens=40, temperature=0, top_k=0, top_p=1.0,
        adapter=SESSION_ADAPTER,
    )])[0]  # fmt: skip
    assert text == same.text
    # Streamed and as a plain completion too.
    stream = client.chat.completions.create(model=served, stream=True, **kwargs)
    chunks = list(stream)
    assert {c.model for c in chunks} == {served}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    done = client.completions.create(model=served, prompt="Product: a tent.\nJSON:", max_tokens=8,
                                     temperature=0)  # fmt: skip
    assert done.model == served and done.usage.completion_tokens > 0


def test_an_unknown_adapter_is_a_404_like_an_unknown_model(client, served) -> None:
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.chat.completions.create(model="gpt-4o", messages=_listing())
    with pytest.raises(openai.NotFoundError, match=f"Adapters of {TINY_MODEL}: {served}") as caught:
        client.chat.completions.create(model=f"{TINY_MODEL}:brand-voice", messages=_listing())
    assert caught.value.code == unknown_model.value.code == "model_not_found"
    assert caught.value.type == unknown_model.value.type
    # An adapter of the tiny model asked for on another base: no such model either.
    with pytest.raises(openai.NotFoundError, match="no adapter named"):
        client.chat.completions.create(model=f"qwen2.5-coder-0.5b:{SESSION_ADAPTER}",
                                       messages=_listing())  # fmt: skip
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=f"gpt-4o:{SESSION_ADAPTER}", messages=_listing())
