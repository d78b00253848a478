"""``POST /v1/embeddings`` on the embedding handles.

``encoding_format="base64"`` (the official client's default) is the vector's
little-endian float32 bytes in base64. ``dimensions`` is refused unless it equals the
model's size: these models cannot be shortened without changing what they mean.
"""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter, Request

from core import ModelManager
from shared_models.types.embedding import ROLE, TokenCountRequest

from ..errors import ApiError
from ..usage import UsageMeter
from .models import resolve_model
from .schemas import EmbeddingBody


def add_embedding_routes(router: APIRouter, manager: ModelManager, usage: UsageMeter) -> None:
    @router.post("/embeddings")
    async def embeddings(body: EmbeddingBody, request: Request) -> dict:
        """One vector per input text, in input order."""
        if unsupported := body.unsupported():
            raise ApiError(400, f"This server does not support {', '.join(unsupported)}.")
        texts = _texts(body.input, manager)
        spec = resolve_model(manager, body.model, ROLE)
        handle = manager.handle(spec.name)
        vectors = await handle.acall(texts)
        size = int(vectors[0].shape[0])
        if body.dimensions is not None and body.dimensions != size:
            raise ApiError(400, f"{spec.name} makes {size}-dimensional vectors and cannot shorten "
                           f"them; leave out dimensions or set it to {size}.", param="dimensions")  # fmt: skip
        tokens = sum(await handle.acall([TokenCountRequest(t) for t in texts]))
        usage.add(getattr(request.state, "api_key", "anonymous"), prompt_tokens=tokens)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        return {"object": "list", "data": data, "model": spec.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip


def _texts(value: object, manager: ModelManager) -> list[str]:
    limits = manager.settings.limits
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "input must be a non-empty string or list of strings.", param="input")
    if len(texts) > limits.max_batch_items:
        raise ApiError(400, f"input has {len(texts)} items; at most {limits.max_batch_items} "
                       "(SPRINGBOARD_LIMITS__MAX_BATCH_ITEMS).", param="input")  # fmt: skip
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"input[{i}] is not a string; token arrays are not accepted, "
                           "send text.", param="input")  # fmt: skip
        if not text.strip():
            raise ApiError(400, f"input[{i}] is empty.", param="input")
        if len(text) > limits.max_text_chars:
            raise ApiError(400, f"input[{i}] is {len(text)} characters; at most "
                           f"{limits.max_text_chars} (SPRINGBOARD_LIMITS__MAX_TEXT_CHARS).",
                           param="input")  # fmt: skip
    return texts


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]
