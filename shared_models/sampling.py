"""Per-row next-token selection for a batched decode loop.

Every row of a batch carries its own temperature, top-k, top-p, repetition
penalty and random generator, so one forward pass can serve requests with
different settings. The filtering is done on the whole batch at once; only the
final draw is per row, because ``torch.multinomial`` takes one generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one row. ``temperature == 0`` means greedy (argmax)."""

    temperature: float
    top_k: int  # 0: no top-k limit
    top_p: float  # 1.0: no nucleus limit
    repetition_penalty: float  # 1.0: none


def apply_repetition_penalty(
    logits: torch.Tensor, seen: torch.Tensor, penalties: torch.Tensor
) -> torch.Tensor:
    """CTRL-style penalty: divide positive logits of seen tokens by the penalty, multiply negative ones.

    ``logits`` [B, V] float, ``seen`` [B, V] bool (tokens in the prompt or generated so
    far), ``penalties`` [B] float. Rows with penalty 1.0 are unchanged.
    """
    p = penalties.to(logits.dtype).unsqueeze(1)
    penalised = torch.where(logits > 0, logits / p, logits * p)
    return torch.where(seen, penalised, logits)


def apply_presence_frequency_penalties(
    logits: torch.Tensor, counts: torch.Tensor, presence: torch.Tensor, frequency: torch.Tensor
) -> torch.Tensor:
    """OpenAI's penalties: ``logit -= count * frequency + (count > 0) * presence``.

    ``counts`` [B, V] float holds how often each token was generated so far (the
    prompt does not count); ``presence`` and ``frequency`` are [B] floats.
    """
    p = presence.to(logits.dtype).unsqueeze(1)
    f = frequency.to(logits.dtype).unsqueeze(1)
    return logits - counts * f - (counts > 0).to(logits.dtype) * p


def select_tokens(
    logits: torch.Tensor,
    params: list[SamplingParams],
    generators: list[torch.Generator],
) -> list[int]:
    """Pick one token per row of ``logits`` [B, V] (float32) under each row's params."""
    batch, vocab = logits.shape
    chosen: list[int] = [0] * batch
    sampled = [i for i, p in enumerate(params) if p.temperature > 0]
    if len(sampled) < batch:
        greedy = logits.argmax(dim=-1).tolist()
        for i, p in enumerate(params):
            if p.temperature <= 0:
                chosen[i] = greedy[i]
    if not sampled:
        return chosen

    rows = logits[sampled]
    sub = [params[i] for i in sampled]
    temps = torch.tensor([p.temperature for p in sub], dtype=rows.dtype, device=rows.device)
    rows = rows / temps.unsqueeze(1)
    # Only the top max(k) candidates can survive top-k, so we sort just those; a row
    # without a top-k limit needs the whole vocabulary sorted for top-p.
    ks = [p.top_k if 0 < p.top_k < vocab else vocab for p in sub]
    width = max(ks)
    values, indices = rows.topk(width, dim=-1, sorted=True)
    rank = torch.arange(width, device=rows.device).unsqueeze(0)
    k_limit = torch.tensor(ks, device=rows.device).unsqueeze(1)
    values = values.masked_fill(rank >= k_limit, float("-inf"))
    probs = torch.softmax(values, dim=-1)
    # Nucleus: keep the smallest prefix whose mass reaches top_p; the first token always stays.
    top_p = torch.tensor([p.top_p for p in sub], dtype=probs.dtype, device=rows.device)
    mass_before = probs.cumsum(dim=-1) - probs
    probs = probs.masked_fill(mass_before >= top_p.unsqueeze(1), 0.0)
    for j, i in enumerate(sampled):
        pick = torch.multinomial(probs[j], 1, generator=generators[i])
        chosen[i] = int(indices[j, pick])
    return chosen
