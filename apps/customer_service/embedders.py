"""Which embedding model(s) a knowledge base uses, and how a question's vector is weighed.

A knowledge base is embedded by one model or by two side by side. Two are named
``"minilm-l6+multilingual-e5-small"``: each text's vector is the two models' unit
vectors one after the other (768 numbers), stored as one vector per phrasing. A
question's vector is then weighed before the inner product, so one index serves both:

* a question in the knowledge base's language: ``MINILM_SHARE`` of the MiniLM cosine
  plus the rest of the e5 cosine (score fusion; measured best at 1, MiniLM alone);
* a question in another language (Chinese against an English knowledge base): the e5
  cosine alone, since MiniLM knows English only.

``"auto"`` picks from the knowledge base's language when entries are imported: English
gets both models, Chinese (or mixed) gets e5 alone (MiniLM adds nothing on Chinese text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shared_models.types.embedding import DEFAULT_MODEL as MINILM
from shared_models.types.embedding import MULTILINGUAL_MODEL as E5
from shared_models.types.embedding import EmbedText

AUTO = "auto"
BOTH = f"{MINILM}+{E5}"
DIM = 384  # both models' vectors
# The MiniLM share of a same-language score. On the fernleaf set of bench/own_data
# (never the held-out quayside) paraphrase top-1 was 0.76 at 0 (e5 alone), 0.83 at 0.3,
# 0.85 at 0.5 and 0.7, 0.87 at 1: on English questions MiniLM alone ranks best, so e5
# serves only questions in another language (bench/RESULTS.md).
MINILM_SHARE = 1.0
# A knowledge base whose questions are at least this share CJK characters is Chinese.
CJK_KB_SHARE = 0.3


def choose_model(cjk_share_of_questions: float) -> str:
    """The embedding model(s) for a knowledge base in this language (``AUTO``'s choice)."""
    return E5 if cjk_share_of_questions >= CJK_KB_SHARE else BOTH


def describe(model: str) -> str:
    """How the Knowledge base tab names a model choice."""
    if model == BOTH:
        return f"`{MINILM}` + `{E5}` (English knowledge base; questions in another language: `{E5}` alone)"
    return f"`{model}`"


class Embedders:
    """The handle(s) behind a model name, the stored vectors' width and the question views."""

    def __init__(self, model: str, handle: Callable[[str], Any]) -> None:
        self.model = model
        self.parts = model.split("+")
        self.handles = [handle(name) for name in self.parts]
        self.dim = DIM * len(self.parts)

    def __call__(self, texts: list[str | EmbedText]) -> np.ndarray:
        texts = list(texts)
        vectors = [np.stack(h.call(texts)).astype(np.float32) for h in self.handles]
        return vectors[0] if len(vectors) == 1 else np.concatenate(vectors, axis=1)

    def view(self, vector: np.ndarray, cross_lingual: bool = False) -> np.ndarray:
        """The question vector to search with: the weighing of the models' cosines."""
        if len(self.parts) == 1:
            return vector
        minilm, e5 = vector[..., :DIM], vector[..., DIM:]
        share = 0.0 if cross_lingual else MINILM_SHARE
        return np.concatenate([share * minilm, (1.0 - share) * e5], axis=-1).astype(np.float32)

    @property
    def second_view(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """With two models: the question vector as the second (e5) alone sees it, for a
        second opinion on a same-language match; None with one model."""
        if len(self.parts) == 1:
            return None
        return lambda vector: self.view(vector, cross_lingual=True)


__all__ = ["AUTO", "BOTH", "Embedders", "choose_model", "describe"]
