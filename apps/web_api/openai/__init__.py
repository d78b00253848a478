"""The OpenAI-compatible API under ``/v1``: models, chat, completions, embeddings, audio.

Each route turns an OpenAI request into the suite's own request types and calls the
shared core through handles (or the speech app's Python API), so API calls are batched
with the pages' calls on the same models.
"""

from __future__ import annotations

from fastapi import APIRouter

from core import ModelManager

from ..usage import UsageMeter
from .audio import add_audio_routes
from .embeddings import add_embedding_routes
from .models import add_model_routes
from .text import add_text_routes


def build_openai_router(manager: ModelManager, usage: UsageMeter) -> APIRouter:
    """Every ``/v1`` route, bound to ``manager`` and counting usage in ``usage``."""
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
    add_model_routes(router, manager)
    add_text_routes(router, manager, usage)
    add_embedding_routes(router, manager, usage)
    add_audio_routes(router, manager, usage)
    return router
