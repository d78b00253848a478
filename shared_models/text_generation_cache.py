"""Prefix KV cache for the text generation role: reuse the attention keys and values of
prompt beginnings that were already computed.

Many prompts start alike: every customer-service prompt begins with the same system
rules, every chat with the same template header. In a causal model the keys and
values of the first ``n`` tokens depend only on those ``n`` tokens, so once a prompt
has been prefilled, any later prompt sharing its first ``n`` tokens can start from
those ``n`` cached positions and prefill only its own remainder. This is the
"automatic prefix caching" of vLLM (Kwon et al., 2023), kept to a small LRU of whole
prompts matched by longest common prefix, which is all a CPU-sized batch needs.

Entries are stored per model (one ``PrefixCache`` per runner), keyed on token ids,
and bounded in bytes; the least recently used entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

# Reusing fewer tokens than this saves almost nothing and still changes the
# batch layout, so shorter matches are treated as misses.
MIN_REUSE_TOKENS = 8


@dataclass
class PrefixMatch:
    """The cached keys/values to reuse for one prompt: ``kv`` holds at least ``length``
    positions, shaped [layers, 2 (key, value), kv_heads, positions, head_dim]."""

    length: int
    kv: torch.Tensor


class PrefixCache:
    """A bounded LRU of prompt KV tensors, looked up by longest common token prefix.

    Not thread-safe on its own: the runner uses it under its decode lock.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self._bytes = 0
        # Counters for benchmarks (bench/customer_service.py): prompts looked up, their
        # tokens, and how many of those came from the cache instead of a prefill.
        self.hits = 0
        self.misses = 0
        self.prompt_tokens = 0
        self.reused_tokens = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Counters since the model loaded, plus the current size."""
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "hits": self.hits,
            "misses": self.misses,
            "prompt_tokens": self.prompt_tokens,
            "reused_tokens": self.reused_tokens,
        }

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def lookup(self, ids: list[int]) -> PrefixMatch | None:
        """The longest cached prefix of ``ids``, leaving at least its last token to compute.

        At least one prompt token must go through the model, since its logits give
        the first new token; so a prompt seen before reuses all but its last token.
        """
        self.prompt_tokens += len(ids)
        if not self.enabled or len(ids) < 2:
            return None
        limit = len(ids) - 1
        best_key, best_len = None, 0
        for key in self._entries:
            n = _common_prefix(key, ids, limit)
            if n > best_len:
                best_key, best_len = key, n
        if best_key is None or best_len < MIN_REUSE_TOKENS:
            self.misses += 1
            return None
        self._entries.move_to_end(best_key)
        self.hits += 1
        self.reused_tokens += best_len
        return PrefixMatch(best_len, self._entries[best_key])

    def store(self, ids: list[int], kv: torch.Tensor) -> None:
        """Keep ``kv`` (all of ``ids``' positions) unless an entry already covers it.

        Entries that ``ids`` extends are dropped: the new one answers every lookup
        they could, so keeping both would only hold the shared part twice.
        """
        if not self.enabled or len(ids) < MIN_REUSE_TOKENS:
            return
        size = kv.numel() * kv.element_size()
        if size > self.max_bytes:
            return
        key = tuple(ids)
        for old in list(self._entries):
            if len(old) >= len(key) and old[: len(key)] == key:
                self._entries.move_to_end(old)  # already covered
                return
            if len(old) < len(key) and key[: len(old)] == old:
                self._remove(old)
        self._entries[key] = kv
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def _remove(self, key: tuple[int, ...]) -> None:
        kv = self._entries.pop(key)
        self._bytes -= kv.numel() * kv.element_size()


def _common_prefix(a: tuple[int, ...], b: list[int], limit: int) -> int:
    n = min(len(a), limit)
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
