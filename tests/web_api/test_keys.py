"""API keys: parsing, constant-time matching, per-key usage by name, and never in the logs."""

from __future__ import annotations

import secrets

import httpx
import pytest

from apps.web_api import keys as keys_module
from apps.web_api.keys import ApiKey, load_keys, match_key, parse_keys
from core.errors import InvalidInputError
from core.settings import Settings
from shared_models.types.generation import TINY_MODEL

from .conftest import KEYS


def test_keys_parse_with_names_and_bare_keys_get_one():
    keys = parse_keys("alice:sk-1, bob : sk-2\n# a comment\nsk-3", "test")
    assert [(k.name, k.secret) for k in keys] == [
        ("alice", "sk-1"),
        ("bob", "sk-2"),
        ("key3", "sk-3"),
    ]
    assert "sk-1" not in repr(keys)  # a stray log line of the list shows no key


def test_keys_file_and_setting_combine_and_duplicates_are_refused(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("carol:sk-carol\n")
    settings = Settings(data_dir=tmp_path, api_keys="alice:sk-a", api_keys_file=path)
    assert [k.name for k in load_keys(settings)] == ["alice", "carol"]
    with pytest.raises(InvalidInputError, match="share a name"):
        load_keys(Settings(data_dir=tmp_path, api_keys="a:sk-1,a:sk-2"))
    with pytest.raises(InvalidInputError, match="listed twice"):
        load_keys(Settings(data_dir=tmp_path, api_keys="a:sk-1,b:sk-1"))
    with pytest.raises(InvalidInputError, match="not a file"):
        load_keys(Settings(data_dir=tmp_path, api_keys_file=tmp_path / "missing"))


def test_every_key_is_compared_in_constant_time_whichever_matches(monkeypatch):
    keys = [ApiKey("a", "sk-first"), ApiKey("b", "sk-second"), ApiKey("c", "sk-third")]
    calls = []
    real = secrets.compare_digest

    def spy(x, y):
        calls.append((x, y))
        return real(x, y)

    monkeypatch.setattr(keys_module.secrets, "compare_digest", spy)
    for presented, expected in (
        ("sk-first", "a"),
        ("sk-third", "c"),
        ("sk-none", None),
        ("", None),
    ):
        calls.clear()
        assert match_key(presented, keys) == expected
        # No early exit: every key is compared, so the time does not tell which one matched.
        assert [y for _, y in calls] == [k.secret.encode() for k in keys]


def test_usage_is_counted_per_key_name(client, bob, api_server):
    before = {u["key"]: u for u in httpx.get(api_server.base + "/api/status").json()["api_usage"]}
    done = bob.chat.completions.create(
        model=TINY_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=5, temperature=0
    )
    emb = bob.embeddings.create(model="minilm-l6", input="parcel")
    after = {u["key"]: u for u in httpx.get(api_server.base + "/api/status").json()["api_usage"]}
    old = before.get("bob", {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0})
    assert after["bob"]["requests"] == old["requests"] + 2
    assert (
        after["bob"]["prompt_tokens"]
        == old["prompt_tokens"] + done.usage.prompt_tokens + emb.usage.prompt_tokens
    )
    assert (
        after["bob"]["completion_tokens"] == old["completion_tokens"] + done.usage.completion_tokens
    )
    report = httpx.get(api_server.base + "/api/status").text
    assert not any(secret in report for secret in KEYS.values())


def test_audio_seconds_are_counted(client, api_server, clip):
    before = {u["key"]: u for u in httpx.get(api_server.base + "/api/status").json()["api_usage"]}
    with clip[0].open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-tiny.en", file=fh)
    after = {u["key"]: u for u in httpx.get(api_server.base + "/api/status").json()["api_usage"]}
    seconds = clip[0].stat().st_size / 32000  # 16 kHz, 16-bit mono
    gained = (
        after["alice"]["audio_seconds"] - before.get("alice", {"audio_seconds": 0})["audio_seconds"]
    )
    assert gained == pytest.approx(seconds, rel=0.05)


def test_keys_are_never_logged(api_server, client):
    wrong = "sk-wrong-5e1c0a77"
    httpx.get(api_server.base + "/v1/models", headers={"Authorization": f"Bearer {wrong}"})
    client.models.list()
    log = api_server.output()
    assert "serving Springboard" in log
    assert not any(secret in log for secret in (*KEYS.values(), wrong))


def test_the_api_document_is_served_behind_the_keys(api_server):
    """/api/v1/openapi.json documents both APIs (and only them); reading it needs a key."""
    url = api_server.base + "/api/v1/openapi.json"
    assert httpx.get(url, timeout=30).status_code == 401
    doc = httpx.get(url, headers={"Authorization": "Bearer " + KEYS["alice"]}, timeout=30).json()
    paths = set(doc["paths"])
    assert {"/v1/chat/completions", "/v1/embeddings", "/api/v1/customer-service/ask"} <= paths
    assert all(p.startswith(("/v1/", "/api/v1/")) for p in paths)
