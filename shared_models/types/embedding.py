"""Text embedding role: ``handle.call([text, ...])`` returns one unit-length float32 vector per text.

An input is a plain string or an ``EmbedText``. Asymmetric models (E5) embed a search
query and a stored passage differently; ``EmbedText(text, kind="passage")`` says which.
A plain string is a query. Symmetric models (MiniLM) ignore the kind.
``TokenCountRequest`` asks how many tokens the model reads of a text (for exact usage
counts), answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

ROLE = "embedding"
DEFAULT_MODEL = "minilm-l6"  # all-MiniLM-L6-v2, 384 dimensions, English
MULTILINGUAL_MODEL = "multilingual-e5-small"  # 384 dimensions, ~100 languages incl. Chinese

EmbedKind = Literal["query", "passage"]
EMBED_KINDS: tuple[str, ...] = ("query", "passage")


@dataclass(frozen=True)
class EmbedText:
    """A text to embed, and whether it is a search query or a passage to be found."""

    text: str
    kind: EmbedKind = "query"


@dataclass(frozen=True)
class TokenCountRequest:
    """How many tokens the model reads of ``text`` (the result is an ``int``).

    Counted as the model sees it: special tokens included, after the model's own
    truncation. It is ``direct``: answered at once, never queued behind a batch.
    """

    text: str
    direct: ClassVar[bool] = True
