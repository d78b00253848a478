"""The one server: starts, answers HTTP on a free port, serves home, status and the JSON API."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from core.settings import PROJECT_ROOT
from tests.support.server import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv.base
    srv.stop()


def test_home_page_is_served(server):
    r = httpx.get(server + "/", timeout=10)
    assert r.status_code == 200 and "<html" in r.text.lower()
    config = httpx.get(server + "/config", timeout=10).json()
    assert config["title"] == "Springboard"
    texts = " ".join(str(c.get("props", {}).get("value", "")) for c in config["components"])
    assert "Five AI products served from one machine" in texts


def test_status_page_and_json_api(server):
    assert httpx.get(server + "/status", timeout=10).status_code == 200
    report = httpx.get(server + "/api/status", timeout=10).json()
    assert report["device"] and report["budget_mb"] > 0
    assert report["models"] == [] or all("loaded" in m for m in report["models"])
    costs = report["costs"]  # what requests cost, per app, model and hour
    assert costs["prices"]["currency"] and {"by_app", "by_model", "by_hour", "total"} <= costs.keys()


def test_models_are_not_loaded_until_used(server):
    report = httpx.get(server + "/api/status", timeout=10).json()
    assert not any(m["loaded"] for m in report["models"])


def test_warmup_and_auth(tmp_path):
    server = start_server(
        tmp_path,
        "--warmup",
        "minilm-l6",
        env={"SPRINGBOARD_AUTH_USERNAME": "founder", "SPRINGBOARD_AUTH_PASSWORD": "s3cret-pw"},
    )
    try:
        assert httpx.get(server.base + "/api/status", timeout=10).status_code == 401
        report = httpx.get(
            server.base + "/api/status", auth=("founder", "s3cret-pw"), timeout=10
        ).json()
        assert [m["model"] for m in report["models"] if m["loaded"]] == ["minilm-l6"]
        assert httpx.get(server.base + "/config", timeout=10).status_code in (401, 403)
    finally:
        out = server.stop()
    assert "serving Springboard" in out, "the log was captured"
    assert "s3cret-pw" not in out, "secrets are never logged"


def test_list_models_cli():
    out = subprocess.run(
        [sys.executable, "-m", "apps", "--list-models"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "minilm-l6" in out and "embedding" in out
