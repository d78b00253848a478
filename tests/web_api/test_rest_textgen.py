"""The text generation template routes, run on the tiny generation model (smollm2-135m)."""

from __future__ import annotations

import uuid

import pytest

from apps.textgen import BUILTIN_TEMPLATES, GenerationOptions
from apps.ui_kit import text_generator

from .rest_app import assert_error, make_client, sse_events

TG = "/api/v1/textgen"
TINY = "smollm2-135m"
FIELDS = {"product": "a foldable e-bike", "audience": "commuters"}


@pytest.fixture(scope="module")
def client(manager):
    with make_client() as c:
        yield c


def test_list_get_and_render_templates(client):
    listed = client.get(f"{TG}/templates").json()
    assert [t["name"] for t in listed][: len(BUILTIN_TEMPLATES)] == list(BUILTIN_TEMPLATES)
    one = client.get(f"{TG}/templates/product_description").json()
    assert one["builtin"] and "product" in [f["name"] for f in one["fields"]]
    rendered = client.post(f"{TG}/templates/product_description/render", json={"fields": FIELDS})
    assert rendered.status_code == 200, rendered.text
    messages = rendered.json()["messages"]
    assert messages == text_generator().render_template("product_description", **FIELDS)
    assert "a foldable e-bike" in messages[-1]["content"]


def test_generate_matches_the_python_api(client):
    body = {"fields": FIELDS, "model": TINY, "max_new_tokens": 8, "temperature": 0, "seed": 1}
    r = client.post(f"{TG}/templates/product_description/generate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == TINY and out["text"]
    assert 1 <= out["new_tokens"] <= 8 and out["prompt_tokens"] > 20
    assert out["finish_reason"] in ("length", "eos")
    options = GenerationOptions(max_new_tokens=8, temperature=0, seed=1)
    with text_generator(TINY).start_template("product_description", FIELDS, options) as direct:
        assert direct.consume() == out["text"]  # greedy: the same text through both


def test_generate_streams_server_sent_events(client):
    body = {"fields": FIELDS, "model": TINY, "max_new_tokens": 12, "temperature": 0, "stream": True}
    with client.stream("POST", f"{TG}/templates/product_description/generate", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events("".join(r.iter_text()))
    pieces, final = events[:-1], events[-1]
    assert pieces and all(set(p) == {"text"} for p in pieces)
    assert final["done"] is True and final["text"] == "".join(p["text"] for p in pieces)
    assert final["new_tokens"] <= 12


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("no_such_template", {"fields": FIELDS, "model": TINY}, 404),
        ("product_description", {"fields": FIELDS, "model": "gpt-17"}, 404),
        ("product_description", {"fields": {}, "model": TINY}, 400),  # required field
        ("product_description", {"fields": {**FIELDS, "colour": "red"}, "model": TINY}, 400),
        ("product_description", {"fields": {"product": 5}, "model": TINY}, 400),
        ("product_description", {"fields": FIELDS, "model": TINY, "max_new_tokens": 0}, 400),
        ("product_description", {"fields": FIELDS, "model": TINY, "max_new_tokens": 10**6}, 400),
        ("product_description", {"fields": FIELDS, "model": TINY, "temperature": -1}, 400),
    ],
)
def test_bad_generate_requests(client, name, body, status):
    for stream in (False, True):
        r = client.post(f"{TG}/templates/{name}/generate", json={**body, "stream": stream})
        assert_error(r, status)  # an error before any text is never a 200 stream


def test_over_long_field_is_cut_with_a_notice_and_huge_body_is_413(client, manager, monkeypatch):
    body = {"fields": {"product": "bike " * 4000}, "model": TINY, "max_new_tokens": 4}
    out = client.post(f"{TG}/templates/product_description/generate", json=body).json()
    assert any("was cut" in n for n in out["notices"]), out
    monkeypatch.setattr(manager.settings.limits, "max_upload_mb", 1)
    huge = {"fields": {"product": "bike " * 300_000}, "model": TINY}
    assert_error(client.post(f"{TG}/templates/product_description/generate", json=huge), 413)


def test_user_template_round_trip(client):
    name = f"rest_{uuid.uuid4().hex[:8]}"
    body = {
        "title": "Shop tagline",
        "prompt": "Write a tagline for {shop}.",
        "system_prompt": "Be brief.",
    }
    r = client.put(f"{TG}/templates/{name}", json=body)
    assert r.status_code == 200, r.text
    assert [f["name"] for f in r.json()["fields"]] == ["shop"] and not r.json()["builtin"]
    assert_error(client.put(f"{TG}/templates/{name}", json=body), 400)  # exists, no overwrite
    assert client.put(f"{TG}/templates/{name}", json={**body, "overwrite": True}).status_code == 200
    rendered = client.post(
        f"{TG}/templates/{name}/render", json={"fields": {"shop": "a bakery"}}
    ).json()
    assert rendered["messages"][-1]["content"] == "Write a tagline for a bakery."
    assert_error(
        client.put(f"{TG}/templates/{name}", json={**body, "prompt": "{x.__class__}"}), 400
    )
    assert client.delete(f"{TG}/templates/{name}").status_code == 204
    assert_error(client.get(f"{TG}/templates/{name}"), 404)
    assert_error(client.delete(f"{TG}/templates/{name}"), 404)
    assert_error(client.delete(f"{TG}/templates/product_description"), 400)  # built-in


def test_generate_returns_each_tokens_probability_like_the_python_api(client):
    body = {"fields": FIELDS, "model": TINY, "max_new_tokens": 8, "temperature": 0, "logprobs": True}
    r = client.post(f"{TG}/templates/product_description/generate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    tokens = out["tokens"]
    assert len(tokens) == out["new_tokens"] and "".join(t["text"] for t in tokens).strip()
    assert all(0 < t["probability"] <= 1 and t["logprob"] <= 0 for t in tokens)
    options = GenerationOptions(max_new_tokens=8, temperature=0, logprobs=True)
    with text_generator(TINY).start_template("product_description", FIELDS, options) as direct:
        assert direct.consume() == out["text"]
        expected = direct.tokens
    assert [t["text"] for t in tokens] == [t.text for t in expected]
    assert [t["probability"] for t in tokens] == pytest.approx([t.probability for t in expected], rel=1e-4)
    # Without logprobs there are none.
    plain = client.post(f"{TG}/templates/product_description/generate", json={**body, "logprobs": False})
    assert plain.json()["tokens"] is None


def test_streamed_pieces_carry_their_tokens_probabilities(client):
    body = {"fields": FIELDS, "model": TINY, "max_new_tokens": 10, "temperature": 0, "stream": True,
            "logprobs": True}  # fmt: skip
    with client.stream("POST", f"{TG}/templates/product_description/generate", json=body) as r:
        assert r.status_code == 200
        events = sse_events("".join(r.iter_text()))
    pieces, final = events[:-1], events[-1]
    assert pieces and all(set(p) == {"text", "tokens"} for p in pieces)
    streamed = [t for p in pieces for t in p["tokens"]]
    assert streamed == final["tokens"] and len(streamed) == final["new_tokens"]
    assert "".join(t["text"] for t in streamed) == final["text"]
