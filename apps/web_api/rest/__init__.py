"""Springboard's own REST API, under /api/v1: what the OpenAI API has no shape for.

One module per app; each route calls the same app API function as the app's page, on
the same lazily made app object (``apps.ui_kit``'s singletons). JSON in and out with
pydantic models, so the OpenAPI document describes every route. Errors are raised as
``core.errors`` exceptions or ``HTTPException``; the web API's app-level handlers give
them the ``{"error": {...}}`` shape and status.

    from apps.web_api.rest import build_rest_router
    app.include_router(build_rest_router())
"""

from __future__ import annotations

from fastapi import APIRouter

from . import customer_service, recommendation, speech, textgen, vision

PREFIX = "/api/v1"


def build_rest_router() -> APIRouter:
    """A router with every app's REST routes under ``/api/v1``."""
    router = APIRouter(prefix=PREFIX)
    for module in (customer_service, recommendation, vision, speech, textgen):
        router.include_router(module.router)
    return router


__all__ = ["PREFIX", "build_rest_router"]
