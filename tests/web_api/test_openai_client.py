"""The official ``openai`` client against a real running server (tiny generation model, real clips).

The client does not validate what it receives, so every raw body is also validated
against the client's own types (``model_validate_json``), as SERVING.md advises.
"""

from __future__ import annotations

import base64
import json
import re

import httpx
import numpy as np
import openai
import pytest
from openai.types import Completion, CreateEmbeddingResponse, Model
from openai.types.audio import Transcription, TranscriptionVerbose
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from shared_models.types.generation import TINY_MODEL
from shared_models.types.speech import FAST_MODEL

from .conftest import KEYS

HELLO = [{"role": "user", "content": "Say hello to Ada in one short sentence."}]


def valid(kind, raw):
    """The raw HTTP body, validated against the client's own type (strict: no coercion)."""
    return kind.model_validate_json(raw.http_response.text, strict=True)


def sse_chunks(text: str) -> list[dict]:
    events = [e for e in text.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    return [json.loads(e.removeprefix("data: ")) for e in events[:-1]]


# ----------------------------------------------------------------------------- models
def test_model_list_names_every_servable_model(client):
    raw = client.models.with_raw_response.list()
    body = json.loads(raw.http_response.text)
    assert body["object"] == "list"
    models = [Model.model_validate(m, strict=True) for m in body["data"]]
    ids = {m.id for m in models}
    assert {TINY_MODEL, "qwen2.5-coder-0.5b", "minilm-l6", FAST_MODEL, "whisper-base"} <= ids
    assert not any("trainer" in i for i in ids)
    assert client.models.retrieve(TINY_MODEL).id == TINY_MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


# ----------------------------------------------------------------------------- chat
def test_chat_completion_with_exact_usage(client, manager):
    raw = client.chat.completions.with_raw_response.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=16, temperature=0
    )
    chat = valid(ChatCompletion, raw)
    choice = chat.choices[0]
    assert chat.model == TINY_MODEL and chat.object == "chat.completion"
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    # Usage is exact: the same counts the core reports for the same request in this process.
    from shared_models.types.generation import GenerationRequest

    same = manager.handle(TINY_MODEL).call(
        [GenerationRequest(messages=HELLO, max_new_tokens=16, temperature=0, top_k=0, top_p=1.0)]
    )[0]
    assert chat.usage.prompt_tokens == same.prompt_tokens
    assert chat.usage.completion_tokens == same.new_tokens
    assert chat.usage.total_tokens == same.prompt_tokens + same.new_tokens
    assert choice.message.content == same.text


def test_chat_n_choices_seeded_and_repeatable(client):
    kwargs = dict(model=TINY_MODEL, messages=HELLO, max_tokens=12, temperature=1.0, seed=11, n=3)
    first = valid(ChatCompletion, client.chat.completions.with_raw_response.create(**kwargs))
    again = client.chat.completions.create(**kwargs)
    texts = [c.message.content for c in first.choices]
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert texts == [c.message.content for c in again.choices]
    assert len(set(texts)) > 1  # each choice has its own seed
    assert first.usage.completion_tokens > 0


def test_chat_logprobs_and_stop(client):
    raw = client.chat.completions.with_raw_response.create(
        model=TINY_MODEL, messages=HELLO, max_completion_tokens=10, temperature=0,
        logprobs=True, top_logprobs=3,
    )  # fmt: skip
    chat = valid(ChatCompletion, raw)
    content = chat.choices[0].logprobs.content
    assert len(content) == chat.usage.completion_tokens
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token  # greedy picks the likeliest
    full = chat.choices[0].message.content
    stop_at = full.split()[1] if len(full.split()) > 1 else full[-1]
    stopped = client.chat.completions.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=10, temperature=0, stop=[stop_at]
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert stop_at not in stopped.choices[0].message.content
    assert full.startswith(stopped.choices[0].message.content)


def test_chat_penalties_change_greedy_output(client):
    ask = [{"role": "user", "content": "Write the word 'apple' twenty times."}]
    plain = client.chat.completions.create(
        model=TINY_MODEL, messages=ask, max_tokens=30, temperature=0
    )
    penalised = client.chat.completions.create(
        model=TINY_MODEL, messages=ask, max_tokens=30, temperature=0, frequency_penalty=2.0
    )
    assert plain.choices[0].message.content != penalised.choices[0].message.content


def test_streaming_chat_with_usage_matches_the_plain_answer(client):
    plain = client.chat.completions.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=16, temperature=0
    )
    raw = client.chat.completions.with_raw_response.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=16, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [
        ChatCompletionChunk.model_validate(c, strict=True)
        for c in sse_chunks(raw.http_response.read().decode())
    ]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert all(c.usage is None for c in chunks[:-1])
    # And through the client's own stream reader.
    stream = client.chat.completions.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=16, temperature=0, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text


def test_streaming_n_choices_interleave_by_index(client):
    raw = client.chat.completions.with_raw_response.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=8, temperature=1.0, seed=3, n=2, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [
        ChatCompletionChunk.model_validate(c) for c in sse_chunks(raw.http_response.read().decode())
    ]
    batch = client.chat.completions.create(
        model=TINY_MODEL, messages=HELLO, max_tokens=8, temperature=1.0, seed=3, n=2
    )
    for i in range(2):
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in chunks
            if c.choices and c.choices[0].index == i
        )
        assert streamed == batch.choices[i].message.content
    assert chunks[-1].usage.completion_tokens == batch.usage.completion_tokens


def test_plain_completion_and_its_stream(client):
    raw = client.completions.with_raw_response.create(
        model=TINY_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, logprobs=2
    )
    done = valid(Completion, raw)
    assert done.object == "text_completion" and done.choices[0].text
    assert len(done.choices[0].logprobs.tokens) == done.usage.completion_tokens
    assert all(len(top) == 2 for top in done.choices[0].logprobs.top_logprobs)
    stream = client.completions.create(
        model=TINY_MODEL,
        prompt="The capital of France is",
        max_tokens=8,
        temperature=0,
        stream=True,
    )
    assert "".join(c.choices[0].text for c in stream) == done.choices[0].text


# ----------------------------------------------------------------------------- embeddings
def test_embeddings_float_and_base64_agree(client, manager):
    texts = ["Where is my parcel?", "Refund policy"]
    as_float = valid(
        CreateEmbeddingResponse,
        client.embeddings.with_raw_response.create(
            model="minilm-l6", input=texts, encoding_format="float"
        ),
    )
    raw_b64 = client.embeddings.with_raw_response.create(
        model="minilm-l6", input=texts
    )  # client default: base64
    body = json.loads(raw_b64.http_response.text)
    assert isinstance(body["data"][0]["embedding"], str)
    decoded = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    parsed = raw_b64.parse()  # the client's own base64 decoding
    direct = manager.handle("minilm-l6").call(texts)
    for i in range(2):
        assert np.allclose(as_float.data[i].embedding, direct[i], atol=1e-5)
        assert np.allclose(parsed.data[i].embedding, direct[i], atol=1e-6)
    assert np.array_equal(decoded, np.asarray(direct[0], dtype="<f4"))
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens > 4
    one = client.embeddings.create(model="minilm-l6", input="hello", dimensions=384)
    assert len(one.data[0].embedding) == 384


def test_embedding_dimensions_refused_clearly(client):
    with pytest.raises(openai.BadRequestError, match="384-dimensional") as caught:
        client.embeddings.create(model="minilm-l6", input="hello", dimensions=256)
    assert caught.value.body["param"] == "dimensions"


# ----------------------------------------------------------------------------- audio
def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_transcription_in_all_five_formats(client, clip):
    path, reference = clip
    with path.open("rb") as fh:
        as_json = valid(
            Transcription,
            client.audio.transcriptions.with_raw_response.create(model=FAST_MODEL, file=fh),
        )
    assert len(_words(as_json.text) & _words(reference)) >= len(_words(reference)) * 0.6

    with path.open("rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(
            model=FAST_MODEL, file=fh, response_format="verbose_json",
            timestamp_granularities=["segment"], language="en",
        )  # fmt: skip
    verbose = valid(TranscriptionVerbose, raw)
    assert verbose.text == as_json.text and verbose.language == "english"
    assert verbose.duration == pytest.approx(path.stat().st_size / 32000, rel=0.05)
    assert verbose.segments and verbose.segments[-1].end <= verbose.duration + 0.5
    assert verbose.words is None

    with path.open("rb") as fh:
        text = client.audio.transcriptions.create(model=FAST_MODEL, file=fh, response_format="text")
    assert isinstance(text, str) and text.strip() == as_json.text
    with path.open("rb") as fh:
        srt = client.audio.transcriptions.create(model=FAST_MODEL, file=fh, response_format="srt")
    assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt)
    with path.open("rb") as fh:
        vtt = client.audio.transcriptions.create(model=FAST_MODEL, file=fh, response_format="vtt")
    assert vtt.startswith("WEBVTT\n") and re.search(r"00:00:\d\d\.\d{3} --> 00:00:\d\d\.\d{3}", vtt)


def test_word_timestamps_in_verbose_json(client, clip):
    path, reference = clip
    with path.open("rb") as fh:
        words_only = valid(
            TranscriptionVerbose,
            client.audio.transcriptions.with_raw_response.create(
                model=FAST_MODEL, file=fh, response_format="verbose_json",
                timestamp_granularities=["word"],
            ),
        )  # fmt: skip
    # As OpenAI's API: words alone when only words are asked for.
    assert words_only.segments is None and words_only.words
    words = words_only.words
    assert "".join(w.word for w in words) == words_only.text.replace(" ", "")
    assert all(w.word == w.word.strip() and w.word for w in words)
    assert all(0 <= w.start <= w.end <= words_only.duration + 0.05 for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))
    assert len(_words(" ".join(w.word for w in words)) & _words(reference)) >= 3

    with path.open("rb") as fh:
        both = client.audio.transcriptions.create(
            model=FAST_MODEL, file=fh, response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )  # fmt: skip
    assert both.segments and [w.word for w in both.words] == [w.word for w in words]
    with path.open("rb") as fh, pytest.raises(openai.BadRequestError, match="verbose_json"):
        client.audio.transcriptions.create(
            model=FAST_MODEL, file=fh, response_format="json", timestamp_granularities=["word"]
        )


def test_translation_with_the_multilingual_model(client, clip):
    with clip[0].open("rb") as fh:
        raw = client.audio.translations.with_raw_response.create(model="whisper-1", file=fh)
    assert _words(json.loads(raw.http_response.text)["text"]) & _words(clip[1])
    with clip[0].open("rb") as fh, pytest.raises(openai.BadRequestError, match="English-only"):
        client.audio.translations.create(model=FAST_MODEL, file=fh)


def test_not_audio_is_a_400(client):
    with pytest.raises(openai.BadRequestError, match="(?i)audio"):
        client.audio.transcriptions.create(
            model=FAST_MODEL, file=("notes.wav", b"not audio at all")
        )


# ----------------------------------------------------------------------------- errors
def test_bad_input_is_400_in_openai_shape_never_422(client, api_server):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TINY_MODEL, messages=HELLO, temperature=3)
    assert caught.value.status_code == 400 and caught.value.body["param"] == "temperature"
    for body in ({"model": TINY_MODEL}, {"model": TINY_MODEL, "messages": "hi"}):
        r = httpx.post(api_server.base + "/v1/chat/completions", json=body,
                       headers={"Authorization": f"Bearer {KEYS['alice']}"})  # fmt: skip
        assert r.status_code == 400
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = httpx.post(api_server.base + "/v1/embeddings", content=b"{not json",
                   headers={"Authorization": f"Bearer {KEYS['alice']}", "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError, match="tools"):
        client.chat.completions.create(
            model=TINY_MODEL, messages=HELLO,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )  # fmt: skip


def test_unknown_model_and_path_are_404(client, api_server):
    with pytest.raises(openai.NotFoundError, match="smollm2-135m") as caught:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError, match="embedding model"):
        client.chat.completions.create(model="minilm-l6", messages=HELLO)
    r = httpx.get(
        api_server.base + "/v1/assistants", headers={"Authorization": f"Bearer {KEYS['bob']}"}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_missing_or_wrong_key_is_401(api_server):
    for key in ("", "sk-alice-7f3a9c2e5", "sk-alice-7f3a9c2e511"):
        anon = openai.OpenAI(base_url=api_server.base + "/v1", api_key=key or "x", max_retries=0)
        if not key:
            anon = anon.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as caught:
            anon.models.list()
        assert caught.value.status_code == 401
        assert caught.value.response.headers["www-authenticate"] == "Bearer"


def test_too_large_body_is_413(client, api_server):
    big = "x" * (2 * 2**20)
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model="minilm-l6", input=big)
    assert caught.value.status_code == 413 and caught.value.code == "request_too_large"


def test_an_error_after_the_stream_began_arrives_as_an_error_event(client):
    # The second prompt is blank: the decoder refuses it while the first is already streaming,
    # so the refusal can only be sent as a `data: {"error": ...}` event, which the client raises.
    stream = client.completions.create(
        model=TINY_MODEL,
        prompt=["Once upon a time", "   "],
        max_tokens=30,
        temperature=0,
        stream=True,
    )
    with pytest.raises(openai.APIError, match="non-empty") as caught:
        for _chunk in stream:
            pass
    assert caught.value.body["type"] == "invalid_request_error"


def test_the_httpx_example_runs_against_the_server(api_server, clip):
    import subprocess
    import sys

    from core.settings import PROJECT_ROOT

    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "examples" / "openai_http.py"), "--base", api_server.base,
         "--key", KEYS["alice"], "--audio", str(clip[0])],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "models:" in out and "chat:" in out and "usage:" in out
    assert "embeddings: 2 vectors of 384 floats" in out
    assert "00:00:00," in out  # the srt transcript


@pytest.mark.parametrize(
    "model", ["local:{tmp}", "hub:openai-community/gpt2", "embedding_training"]
)
def test_api_clients_cannot_make_the_server_load_other_weights(client, api_server, tmp_path, model):
    """Only listed models (or a configured role) are served: no folder or hub id from a client."""
    model = model.format(tmp=tmp_path)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model=model, input="hello")
    assert "local:" not in httpx.get(api_server.base + "/api/status", timeout=10).text


def test_a_prompt_that_does_not_fit_is_refused_not_cut(client):
    long = [{"role": "user", "content": "word " * 1500}]
    with pytest.raises(openai.BadRequestError, match="context is 2048 tokens") as caught:
        client.chat.completions.create(model=TINY_MODEL, messages=long, max_tokens=1000)
    assert caught.value.code == "context_length_exceeded"
    fits = client.chat.completions.create(model=TINY_MODEL, messages=long, max_tokens=4)
    assert fits.usage.prompt_tokens > 1500
