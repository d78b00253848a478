"""The decode state of a batch of sequences, and the key/value-cache surgery it needs.

A ``DecodeBatch`` is what one forward pass serves: the rows, their shared KV cache
(left-padded, so every row's next token is in the last column), the attention mask,
each row's next position, and the token tables the repetition and presence/frequency
penalties read. Continuous batching needs three operations on it, all here:

- ``select``: keep some rows (finished ones leave at once), and cut padding columns no
  remaining row needs;
- ``merge``: join a freshly prefilled batch to the running one, left-padding the
  narrower so both end in the same column;
- ``kv_bytes_per_token``: what one token of context costs, for the scheduler's budget.

Only plain full-attention caches (``DynamicLayer``: a [batch, heads, seq, dim] tensor
per layer) can be cut and joined like this; ``plain_layers`` says whether a model's
cache is one. Models with sliding-window or linear-attention layers keep other state
and are decoded in static batches instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .text_generation_decoding import _Row


@dataclass
class DecodeBatch:
    """Rows decoding together, each with one sampled token not yet fed to the model."""

    rows: list[_Row]
    cache: Any  # transformers DynamicCache
    mask: torch.Tensor  # [B, W] long: 1 where a column is real for that row
    next_pos: torch.Tensor  # [B] the position id of each row's next token
    seen: torch.Tensor | None = None  # [B, V] bool: prompt + fed tokens (repetition penalty)
    counts: torch.Tensor | None = None  # [B, V] float: fed generated tokens (presence/frequency)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])


def plain_layers(cache: Any) -> bool:
    """Whether every layer of a fresh cache is a plain full-attention key/value list.

    Only those can be seeded with cached prefixes, cut and joined; sliding-window or
    linear-attention layers keep other state.
    """
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(la) is DynamicLayer for la in layers)


def kv_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    """Bytes of keys and values one token of context takes in every layer."""
    text = getattr(config, "text_config", None) or config
    layers = int(text.num_hidden_layers)
    heads = int(getattr(text, "num_key_value_heads", None) or text.num_attention_heads)
    dim = int(getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads)
    return layers * 2 * heads * dim * torch.empty((), dtype=dtype).element_size()


def select(batch: DecodeBatch, keep: list[int]) -> DecodeBatch:
    """The batch with only the rows at ``keep``, and without columns that are now all padding."""
    if len(keep) == len(batch.rows):
        return batch
    index = torch.tensor(keep, device=batch.mask.device)
    batch.cache.batch_select_indices(index)
    batch.rows = [batch.rows[b] for b in keep]
    batch.mask, batch.next_pos = batch.mask[index], batch.next_pos[index]
    batch.seen = batch.seen[index] if batch.seen is not None else None
    batch.counts = batch.counts[index] if batch.counts is not None else None
    batch.mask = trim_left_padding(batch.cache, batch.mask)
    return batch


def trim_left_padding(cache: Any, mask: torch.Tensor) -> torch.Tensor:
    """Cut columns that are padding in every remaining row from the mask and the KV cache.

    When the longest prompt's row finishes, the others no longer need its padding;
    dropping it shortens every later attention step.
    """
    real = mask.bool().any(dim=0)
    first = int(real.nonzero()[0]) if bool(real.any()) else 0
    if first == 0 or not _sliceable(cache):
        return mask
    for layer in cache.layers:
        layer.keys = layer.keys[:, :, first:]
        layer.values = layer.values[:, :, first:]
    return mask[:, first:]


def merge(running: DecodeBatch, joining: DecodeBatch, vocab: int) -> DecodeBatch:
    """One batch holding the rows of both; the narrower is left-padded to the wider's width.

    Padding columns are masked, so each row attends to exactly what it did before.
    The penalty tables are built for rows that had none, from their tokens so far.
    """
    width = max(running.width, joining.width)
    for mine, theirs in zip(running.cache.layers, joining.cache.layers, strict=True):
        mine.keys = torch.cat([_pad_left(mine.keys, width), _pad_left(theirs.keys, width)])
        mine.values = torch.cat([_pad_left(mine.values, width), _pad_left(theirs.values, width)])
    mask = torch.cat([_pad_left(running.mask, width, dim=1), _pad_left(joining.mask, width, dim=1)])
    seen = counts = None
    if running.seen is not None or joining.seen is not None:
        seen = torch.cat([_seen(running, vocab), _seen(joining, vocab)])
    if running.counts is not None or joining.counts is not None:
        counts = torch.cat([_counts(running, vocab), _counts(joining, vocab)])
    return DecodeBatch(
        rows=running.rows + joining.rows,
        cache=running.cache,
        mask=mask,
        next_pos=torch.cat([running.next_pos, joining.next_pos]),
        seen=seen,
        counts=counts,
    )


def _sliceable(cache: Any) -> bool:
    layers = getattr(cache, "layers", None)
    return plain_layers(cache) and all(la.keys is not None and la.keys.dim() == 4 for la in layers)


def _pad_left(t: torch.Tensor, width: int, dim: int = 2) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)


def _seen(batch: DecodeBatch, vocab: int) -> torch.Tensor:
    if batch.seen is not None:
        return batch.seen
    seen = torch.zeros((len(batch.rows), vocab), dtype=torch.bool, device=batch.mask.device)
    for b, row in enumerate(batch.rows):
        fed = row.prompt_ids + row.generated[:-1]  # the last token is not fed yet
        seen[b, torch.tensor(fed, device=seen.device)] = True
    return seen


def _counts(batch: DecodeBatch, vocab: int) -> torch.Tensor:
    if batch.counts is not None:
        return batch.counts
    counts = torch.zeros((len(batch.rows), vocab), dtype=torch.float32, device=batch.mask.device)
    for b, row in enumerate(batch.rows):
        fed = row.generated[:-1]
        if fed:
            ids = torch.tensor(fed, device=counts.device)
            counts[b].scatter_add_(0, ids, torch.ones_like(ids, dtype=counts.dtype))
    return counts
