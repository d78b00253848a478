"""What every role shares at the boundary: request ids and progress events.

``handle.stream(request)`` yields the events a runner emits, then the request's
result. Long work (training a classifier, fine-tuning an encoder) emits
``ProgressEvent``; text generation emits ``TextPiece`` (``types.generation``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


def new_request_id() -> str:
    """A fresh id for a request; ``handle.cancel(request_id)`` ends that request."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ProgressEvent:
    """How far a long request has got: ``fraction`` in [0, 1], and what it is doing."""

    fraction: float
    message: str
