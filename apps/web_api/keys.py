"""Bearer-key auth, body size and concurrency limits for the API paths (``/v1``, ``/api/v1``).

Keys come from ``SPRINGBOARD_API_KEYS`` (``"name:key,name:key"``) and/or the file named by
``SPRINGBOARD_API_KEYS_FILE`` (one ``name:key`` a line). Each key has a name; usage is
counted per name and the key itself is never logged or shown. A presented key is compared
with every configured key in constant time (``secrets.compare_digest``, no early exit), so
the time taken says nothing about which key, or how much of one, was right.

Policy:
- keys set: every API request needs ``Authorization: Bearer <key>``;
- no keys, page login on: the API refuses everything (it is never open by accident);
- no keys, no login: the API is open, like the pages, and usage is counted as "anonymous".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import InvalidInputError
from core.settings import Settings

from .errors import RETRY_AFTER_SECONDS, ApiError, is_api_path
from .usage import UsageMeter

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class ApiKey:
    """A named key. ``repr`` hides the secret so a stray log line cannot leak it."""

    name: str
    secret: str

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, secret=***)"


def parse_keys(text: str, source: str) -> list[ApiKey]:
    """Keys from ``"name:key"`` entries separated by commas or new lines ('#' starts a comment).

    A bare key (no name) is named ``key1``, ``key2``... by position.
    """
    keys: list[ApiKey] = []
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        name, sep, secret = entry.partition(":")
        if not sep:
            name, secret = f"key{len(keys) + 1}", name
        name, secret = name.strip(), secret.strip()
        if not name or not secret:
            raise InvalidInputError(f"An API key entry in {source} has an empty name or key.")
        keys.append(ApiKey(name, secret))
    return keys


def load_keys(settings: Settings) -> list[ApiKey]:
    """Every configured key; duplicate names or keys are refused at start."""
    keys: list[ApiKey] = []
    if settings.api_keys is not None:
        keys += parse_keys(settings.api_keys.get_secret_value(), "SPRINGBOARD_API_KEYS")
    if settings.api_keys_file is not None:
        path = Path(settings.api_keys_file)
        if not path.is_file():
            raise InvalidInputError(
                f"SPRINGBOARD_API_KEYS_FILE points at {path}, which is not a file."
            )
        keys += parse_keys(path.read_text(encoding="utf-8"), str(path))
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise InvalidInputError("Two API keys share a name; each key needs its own name.")
    if len({k.secret for k in keys}) != len(keys):
        raise InvalidInputError("The same API key is listed twice; give each its own.")
    return keys


def match_key(presented: str, keys: list[ApiKey]) -> str | None:
    """The name of the key equal to ``presented``, or None; compares against every key."""
    found: str | None = None
    candidate = presented.encode()
    for key in keys:
        # No break: every key is compared whatever matched, so timing does not tell which.
        if secrets.compare_digest(candidate, key.secret.encode()):
            found = key.name
    return found


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class ApiKeyGate:
    """ASGI middleware in front of the API paths: key check, body size limit, concurrency limit.

    The key's name goes into ``request.state.api_key`` for the routes' usage counts.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: list[ApiKey],
        login_on: bool,
        max_body_bytes: int,
        max_concurrent: int,
        usage: UsageMeter,
    ) -> None:
        self.app = app
        self.keys = keys
        self.closed = login_on and not keys
        self.max_body_bytes = max_body_bytes
        self.max_concurrent = max_concurrent
        self.usage = usage
        self.in_flight = 0  # only touched on the event loop's thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            name = self._authorise(headers.get("authorization", ""))
        except ApiError as error:
            await _send_error(send, error)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            self.usage.request(name, error=True)
            await _send_error(send, self._too_large())
            return
        counted = scope.get("method") != "GET"
        if counted and self.in_flight >= self.max_concurrent:
            self.usage.request(name, error=True)
            await _send_error(send, ApiError(
                429, f"The server is serving {self.in_flight} API requests, its limit "
                "(SPRINGBOARD_API_MAX_CONCURRENT); try again shortly.",
                type="rate_limit_error", code="overloaded",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ))  # fmt: skip
            return
        scope.setdefault("state", {})["api_key"] = name
        status = {"code": 0}
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:  # a chunked body with no Content-Length
                raise self._too_large()
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        self.in_flight += counted
        try:
            await self.app(scope, counted_receive, watched_send)
        finally:
            self.in_flight -= counted
            self.usage.request(name, error=status["code"] >= 400 or status["code"] == 0)

    def _authorise(self, header: str) -> str:
        if self.closed:
            raise ApiError(
                401, "The API is closed: page login is on and no API keys are set. Set "
                "SPRINGBOARD_API_KEYS (name:key,...) to use it.",
                type="authentication_error", code="api_keys_not_configured",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        if not self.keys:
            return ANONYMOUS
        token = bearer_token(header)
        name = match_key(token, self.keys) if token else None
        if name is None:
            message = ("Incorrect API key provided." if token else
                       "No API key provided: send 'Authorization: Bearer <key>'.")  # fmt: skip
            raise ApiError(401, message, type="authentication_error", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        return name

    def _too_large(self) -> ApiError:
        mb = self.max_body_bytes / 2**20
        return ApiError(413, f"The request body is larger than {mb:g} MB "
                        "(SPRINGBOARD_LIMITS__MAX_UPLOAD_MB).", code="request_too_large")  # fmt: skip


async def _send_error(send: Send, error: ApiError) -> None:
    import json

    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
