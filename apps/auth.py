"""Username/password protection for every route of the suite, pages and APIs alike.

Gradio checks its login cookie on most of its own routes, but not all (``/gradio_api/cancel``,
``/gradio_api/heartbeat/...``, ``/gradio_api/startup-events`` answer anyone), and the
suite's own JSON routes are outside Gradio. ``AuthGate`` sits in front of everything and
lets a request through only with Gradio's login cookie or HTTP Basic credentials, except
for the few public paths a browser needs to draw the login form.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Credentials = tuple[str, str]

# Static files and the root page shell: without the cookie "/" renders Gradio's login form
# and carries no app data. The other page shells are NOT public: Gradio embeds the full API
# description in them, so an anonymous browser asking for one is sent to "/" to log in.
PUBLIC_EXACT = frozenset(
    {"/", "/healthz", "/login", "/login/", "/logout", "/favicon.ico", "/theme.css",
     "/manifest.json", "/robots.txt", "/gradio_api/login_check", "/gradio_api/login_check/"}
)
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")
# The HTTP APIs use Bearer keys, not the page login: AuthGate hands them to the key gate
# (apps.web_api.keys), which refuses everything when login is on and no keys are set.
KEY_AUTH_PREFIXES = ("/v1", "/api/v1")


def uses_api_keys(path: str) -> bool:
    """Whether ``path`` is an API path checked by Bearer key instead of the login."""
    return any(path == p or path.startswith(p + "/") for p in KEY_AUTH_PREFIXES)


def basic_credentials_match(header: str, expected: Credentials) -> bool:
    """True when an ``Authorization: Basic ...`` header carries exactly ``expected``."""
    if not header.startswith("Basic "):
        return False
    try:
        user, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # compare_digest on both parts so the time taken says nothing about which was wrong
    same_user = secrets.compare_digest(user.encode(), expected[0].encode())
    same_password = secrets.compare_digest(password.encode(), expected[1].encode())
    return bool(sep) and same_user and same_password


class AuthGate:
    """ASGI middleware: 401 for any non-public request without valid credentials.

    ``session_user`` maps the request's cookies to a logged-in user (Gradio's session
    tokens) or None. An anonymous GET of one of ``page_paths`` (each app, status) is
    redirected to the login form at "/".
    """

    def __init__(
        self,
        app: ASGIApp,
        credentials: Credentials,
        session_user: Callable[[dict[str, str]], str | None],
        page_paths: Iterable[str],
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.session_user = session_user
        self.pages = {p.rstrip("/") or "/" for p in page_paths}

    @staticmethod
    def is_public(path: str) -> bool:
        return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or self.is_public(path) or uses_api_keys(path):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if basic_credentials_match(headers.get("authorization", ""), self.credentials) or (
            self.session_user(_cookies(headers.get("cookie", ""))) is not None
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope.get("method") == "GET" and (scope["path"].rstrip("/") or "/") in self.pages:
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps({"detail": "authentication required"}).encode()
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"),
                        (b"www-authenticate", b'Basic realm="Springboard"'),
                        (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def gradio_session_user(gradio_app) -> Callable[[dict[str, str]], str | None]:
    """The user behind Gradio's login cookie, read the way Gradio itself reads it."""

    def user(cookies: dict[str, str]) -> str | None:
        token = cookies.get(f"access-token-{gradio_app.cookie_id}") or cookies.get(
            f"access-token-unsecure-{gradio_app.cookie_id}"
        )
        return gradio_app.tokens.get(token) if token else None

    return user
