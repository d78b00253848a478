"""The suite's HTTP APIs for code in any language, on the same server and port as the pages.

- ``/v1``: the OpenAI-compatible API (``openai/``): models, chat, completions,
  embeddings, audio transcriptions and translations;
- ``/api/v1``: Springboard's own REST API, for what OpenAI has no shape for.

Both sit behind Bearer keys (``keys``), answer errors in OpenAI's shape (``errors``)
and count usage per key (``usage``), shown on the status page and in ``/api/status``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from core import ModelManager
from core.settings import Settings

from .errors import ApiError, install_error_handlers
from .keys import ApiKeyGate, load_keys
from .openai import build_openai_router
from .rest import build_rest_router
from .usage import UsageMeter

__all__ = ["ApiError", "UsageMeter", "mount_web_api"]

_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def mount_web_api(
    app: FastAPI, settings: Settings, manager: ModelManager, usage: UsageMeter | None = None
) -> UsageMeter:
    """Add the API routes, the key gate and the error handlers to ``app``; returns the usage meter.

    Call it before mounting Gradio at "/": routes added after a root mount are never reached.
    """
    usage = usage or UsageMeter()
    install_error_handlers(app)
    api_routers = [build_openai_router(manager, usage), build_rest_router()]
    for router in api_routers:
        app.include_router(router)
    app.include_router(_openapi_router(api_routers))
    app.include_router(_fallback_router())
    app.add_middleware(
        ApiKeyGate,
        keys=load_keys(settings),
        login_on=bool(settings.auth_username or settings.auth_password),
        max_body_bytes=int(settings.limits.max_upload_mb * 2**20),
        max_concurrent=settings.api_max_concurrent,
        usage=usage,
    )
    return usage


def _fallback_router() -> APIRouter:
    """Unknown paths under the API prefixes: an OpenAI-shaped 404, not the pages' HTML."""
    router = APIRouter(include_in_schema=False)

    def not_found(path: str) -> None:
        raise ApiError(404, f"No such API route: /{path}.", code="not_found")

    for prefix in ("/v1", "/api/v1"):
        router.add_api_route(
            f"{prefix}/{{path:path}}", _named(not_found, prefix), methods=_ANY_METHOD
        )
    return router


def _named(fn, prefix: str):
    def route(path: str) -> None:
        fn(f"{prefix.strip('/')}/{path}")

    route.__name__ = f"unknown_{prefix.strip('/').replace('/', '_')}_route"
    return route


def _openapi_router(api_routers: list[APIRouter]) -> APIRouter:
    """``GET /api/v1/openapi.json``: the OpenAPI document of ``/v1`` and ``/api/v1`` only.

    The suite's FastAPI app publishes no document of its own (the pages' endpoints are
    Gradio's, documented on Gradio's API page). This one sits under ``/api/v1``, so the key
    gate covers it: with keys on, reading it needs a key.
    """
    router = APIRouter()
    cached: dict = {}

    @router.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi() -> dict:
        if not cached:
            # A FastAPI app holding only the API routers: its document has nothing else.
            doc_app = FastAPI(
                title="Springboard HTTP API",
                version="1",
                description="OpenAI-compatible API under /v1; Springboard's own REST API "
                'under /api/v1. Errors: {"error": {"message", "type", "param", "code"}}.',
            )
            for api_router in api_routers:
                doc_app.include_router(api_router)
            cached.update(doc_app.openapi())
        return cached

    return router
