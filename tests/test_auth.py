"""With username/password on, every page and API route refuses anonymous requests (over HTTP).

The routes are enumerated from the real ASGI app (ours and Gradio's), so a route added
by a Gradio upgrade is tested without anyone remembering to list it.
"""

from __future__ import annotations

import re

import httpx
import pytest
from gradio_client import Client
from starlette.routing import Mount

from apps.auth import PUBLIC_EXACT, PUBLIC_PREFIXES
from apps.pages import discover_pages
from apps.server import create_app
from core.manager import ModelManager
from core.settings import Settings
from tests.support.server import start_server

USER, PASSWORD = "founder", "correct-horse-battery-staple-42"
AUTH_ENV = {"SPRINGBOARD_AUTH_USERNAME": USER, "SPRINGBOARD_AUTH_PASSWORD": PASSWORD}
# Text that only an authenticated page or API would show.
PRIVATE_MARKERS = ("Five AI products", "Kestrel", "qwen2.5", "minilm", "customer_service_chat")


def _walk(routes, prefix: str = ""):
    """(path, methods) of every HTTP route, through mounts and included routers."""
    for route in routes:
        if isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
        elif hasattr(route, "original_router"):  # FastAPI's wrapper for include_router
            # The router's own prefix is already in its routes' paths; add only the include's.
            extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from _walk(route.original_router.routes, prefix + extra)
        elif getattr(route, "methods", None):
            yield prefix + route.path, sorted(set(route.methods) - {"HEAD"})


def _concrete(path: str) -> str:
    """A real request path for a route template: ``{size}`` becomes a value."""
    return re.sub(r"\{[^}]+\}", "probe", path)


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> list[tuple[str, list[str]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("auth-routes"), auth_username=USER,
                        auth_password=PASSWORD)
    app = create_app(settings, ModelManager(settings))
    found = sorted(set((p, tuple(m)) for p, m in _walk(app.routes)))
    return [(p, list(m)) for p, m in found]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("auth-server"), env=AUTH_ENV)
    yield srv
    srv.stop()


def _public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def test_route_enumeration_finds_gradio_and_suite_routes(routes):
    paths = {p for p, _ in routes}
    assert {"/api/status", "/config", "/gradio_api/upload", "/gradio_api/queue/join",
            "/gradio_api/cancel", "/gradio_api/info"} <= paths
    assert len(paths) > 40


def test_every_route_refuses_anonymous_requests(server, routes):
    page_paths = {"/status", *(p.path for p in discover_pages())}
    checked, leaks = 0, []
    with httpx.Client(base_url=server.base, timeout=15) as http:
        for path, methods in routes:
            url = _concrete(path)
            for method in methods:
                response = http.request(method, url, json={} if method != "GET" else None)
                checked += 1
                if _public(path):
                    # Public: static files and the login form at "/", never app data.
                    if any(marker in response.text for marker in PRIVATE_MARKERS):
                        leaks.append(f"{method} {url}: public route shows private data")
                elif method == "GET" and (path.rstrip("/") or "/") in page_paths:
                    # An app page sends an anonymous browser to the login form.
                    if response.status_code != 303 or response.headers.get("location") != "/":
                        leaks.append(f"{method} {url}: {response.status_code}, not sent to log in")
                elif response.status_code not in (401, 403):
                    leaks.append(f"{method} {url}: {response.status_code}")
    assert checked > 40
    assert not leaks, "routes answered without credentials:\n" + "\n".join(leaks)


def test_pages_show_only_the_login_form_without_credentials(server):
    for path in ("/", "/customer-service", "/textgen/", "/status"):
        response = httpx.get(server.base + path, timeout=15, follow_redirects=True)
        assert response.status_code == 200 and str(response.url).rstrip("/") == server.base
        assert not any(marker in response.text for marker in PRIVATE_MARKERS)
    assert httpx.get(server.base + "/config", timeout=15).status_code == 401


def test_credentials_open_the_json_api_and_the_app_api(server):
    assert httpx.get(server.base + "/api/status", auth=(USER, "wrong"), timeout=15).status_code == 401
    assert httpx.get(server.base + "/api/status", auth=(USER, PASSWORD), timeout=15).json()["budget_mb"] > 0
    with pytest.raises(Exception, match="(?i)credentials|login|auth"):
        Client(server.base, verbose=False)
    client = Client(server.base, auth=(USER, PASSWORD), verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/customer_service_search" in endpoints


def test_login_cookie_opens_gated_routes(server):
    with httpx.Client(base_url=server.base, timeout=15) as http:
        assert http.post("/login", data={"username": USER, "password": "nope"}).status_code in (400, 401)
        assert http.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        assert http.get("/config").status_code == 200
        assert http.get("/api/status").status_code == 200
        assert http.get("/gradio_api/startup-events").status_code == 200
        page = http.get("/customer-service")
        assert page.status_code == 200 and "customer_service_chat" in page.text


def test_password_is_never_logged(server):
    httpx.get(server.base + "/api/status", auth=(USER, "a-wrong-password"), timeout=15)
    log = server.output()
    assert "serving Springboard" in log
    assert PASSWORD not in log and "a-wrong-password" not in log


def test_api_is_closed_when_login_is_on_and_no_keys_are_set(server, routes):
    """/v1 and /api/v1 use Bearer keys; with login on and none set, nothing opens them."""
    api_paths = {p for p, _ in routes if p.startswith(("/v1/", "/api/v1/"))}
    assert {"/v1/models", "/v1/chat/completions", "/v1/embeddings", "/v1/audio/transcriptions"} <= api_paths
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "hi"}]}
    attempts = [
        {},  # anonymous
        {"auth": (USER, PASSWORD)},  # the page login does not open the API
        {"headers": {"Authorization": "Bearer sk-anything"}},
    ]
    for extra in attempts:
        r = httpx.post(server.base + "/v1/chat/completions", json=body, timeout=15, **extra)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "api_keys_not_configured"
