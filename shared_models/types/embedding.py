"""Text embedding role: ``handle.call(["text", ...])`` returns one unit-length float32 vector per text.

The inputs are plain strings and the outputs numpy arrays; this module names the role
and its default model for settings and apps. ``TokenCountRequest`` asks how many
tokens the model reads of a text (for exact usage counts), answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ROLE = "embedding"
DEFAULT_MODEL = "minilm-l6"  # all-MiniLM-L6-v2, 384 dimensions


@dataclass(frozen=True)
class TokenCountRequest:
    """How many tokens the model reads of ``text`` (the result is an ``int``).

    Counted as the model sees it: special tokens included, after the model's own
    truncation. It is ``direct``: answered at once, never queued behind a batch.
    """

    text: str
    direct: ClassVar[bool] = True
