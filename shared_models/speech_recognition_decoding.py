"""Batched greedy decoding for Whisper, without ``generate``.

transformers' ``WhisperForConditionalGeneration.generate`` costs more per token
on CPU than the decoder itself: its logits processors rebuild vocabulary masks
with ``torch.isin`` at every step, ``output_scores`` keeps and stacks a
vocabulary-sized tensor per step, and it needs a separate decoder pass (and a
second cross-attention key/value projection over the 1500 encoder frames) after
ours for language detection. This loop does what OpenAI's ``DecodingTask`` does
for greedy decoding, and only that:

* one decoder step on ``<|startoftranscript|>`` whose logits give the
  no-speech probability and the language, then the rest of the prompt
  (language, task, ``<|notimestamps|>``) on the same key/value cache, so each
  row may have its own language and task;
* per step: blank and end-of-text suppressed at the first step, the model's
  ``suppress_tokens`` always, and OpenAI's timestamp rules when timestamps are
  asked for (the order and rules of transformers' Whisper processors);
* rows that reach end-of-text leave the batch (and the cache), so a long
  window does not make the short ones in its batch pay for its length.

The decoder pass itself is ours too (``WhisperDecoderStep``), over the model's
own modules (int8 or float): transformers' forward builds a causal mask, a
position tensor and cache bookkeeping at every step, which on 2 CPU cores cost
about as much as the decoder's arithmetic. Here the self-attention keys and
values go into buffers allocated once per window, and the cross-attention keys
and values over the encoder frames are projected once, on the first step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

NEG_INF = -math.inf


@dataclass(frozen=True)
class DecodingRules:
    """The token ids and rules greedy decoding needs, read from a generation config."""

    sot: int
    eot: int
    no_timestamps: int
    timestamp_begin: int
    suppress: torch.Tensor  # ids never emitted
    begin_suppress: torch.Tensor  # ids not emitted at the first step (blank, end-of-text)
    max_initial_timestamp: int | None  # in timestamp tokens (50 = 1.0 s)

    @classmethod
    def from_generation_config(cls, gen: Any, device: torch.device) -> DecodingRules:
        eot = gen.eos_token_id if isinstance(gen.eos_token_id, int) else gen.eos_token_id[0]

        def ids(values: Any) -> torch.Tensor:
            return torch.tensor(sorted(set(values or ())), dtype=torch.long, device=device)

        return cls(
            sot=int(gen.decoder_start_token_id),
            eot=int(eot),
            no_timestamps=int(gen.no_timestamps_token_id),
            timestamp_begin=int(gen.no_timestamps_token_id) + 1,
            suppress=ids(getattr(gen, "suppress_tokens", None)),
            begin_suppress=ids(getattr(gen, "begin_suppress_tokens", None)),
            max_initial_timestamp=getattr(gen, "max_initial_timestamp_index", None),
        )


@dataclass
class Decoded:
    """Generated tokens (end-of-text excluded) and their mean log-probability."""

    tokens: list[int]
    avg_logprob: float


class GreedyWhisperDecoder:
    """Greedy decoding over a transformers ``WhisperForConditionalGeneration``."""

    def __init__(self, model: Any, rules: DecodingRules) -> None:
        self.step = WhisperDecoderStep(model.model.decoder)
        self.proj_out = model.proj_out
        self.rules = rules
        self.device = rules.suppress.device

    def start(self, encoded: torch.Tensor) -> tuple[DecoderCache, torch.Tensor, torch.Tensor]:
        """Run ``<|startoftranscript|>`` for every row.

        Returns the cache, the decoder's last hidden state and the (unfiltered)
        float logits at that position: the caller reads the no-speech probability
        and the language from them before choosing each row's prompt.
        """
        cache = self.step.new_cache(encoded)
        start = torch.full((encoded.shape[0], 1), self.rules.sot, device=self.device)
        hidden = self.step(start, cache)
        return cache, hidden, self.proj_out(hidden).float()

    def decode(
        self,
        encoded: torch.Tensor,
        cache: DecoderCache,
        hidden: torch.Tensor,
        prompt_rest: list[list[int]],
        timestamps: bool,
        max_new_tokens: list[int],
    ) -> list[Decoded]:
        """Continue from ``start``: feed each row's remaining prompt, then decode greedily.

        ``prompt_rest`` holds one list per row, all of the same length (for
        example ``[<|en|>, <|transcribe|>]``); ``max_new_tokens`` holds each row's
        limit, end-of-text included. Log-probabilities are those of the
        filtered distribution, counted up to and including end-of-text, as in
        OpenAI's ``sum_logprobs``.
        """
        rules = self.rules
        batch = encoded.shape[0]
        if prompt_rest and prompt_rest[0]:
            ids = torch.tensor(prompt_rest, dtype=torch.long, device=self.device)
            hidden = self.step(ids, cache)
        tokens: list[list[int]] = [[] for _ in range(batch)]
        logprob_sum = [0.0] * batch
        logprob_count = [0] * batch
        alive = list(range(batch))  # original row of each row still in the batch
        for step in range(max(max_new_tokens)):
            logits = self.proj_out(hidden).float()
            if step == 0 and rules.begin_suppress.numel():
                logits.index_fill_(1, rules.begin_suppress, NEG_INF)
            if rules.suppress.numel():
                logits.index_fill_(1, rules.suppress, NEG_INF)
            if timestamps:
                self._timestamp_rules(logits, [tokens[r] for r in alive], first=step == 0)
            logprobs = logits.log_softmax(-1)
            chosen = logits.argmax(-1)
            chosen_logprob = logprobs.gather(1, chosen.unsqueeze(1)).squeeze(1)
            keep: list[int] = []
            for i, (token, logprob) in enumerate(
                zip(chosen.tolist(), chosen_logprob.tolist(), strict=True)
            ):
                row = alive[i]
                if math.isfinite(logprob):
                    logprob_sum[row] += logprob
                    logprob_count[row] += 1
                if token == rules.eot:
                    continue
                tokens[row].append(token)
                if step + 1 < max_new_tokens[row]:
                    keep.append(i)
            if not keep:
                break
            if len(keep) < len(alive):  # finished rows leave the batch and the cache
                index = torch.tensor(keep, device=self.device)
                cache.select(index)
                chosen = chosen.index_select(0, index)
                alive = [alive[i] for i in keep]
            hidden = self.step(chosen.unsqueeze(1), cache)
        return [Decoded(tokens[r], logprob_sum[r] / max(logprob_count[r], 1)) for r in range(batch)]

    def _timestamp_rules(
        self, logits: torch.Tensor, sequences: list[list[int]], first: bool
    ) -> None:
        """OpenAI's ``ApplyTimestampRules`` (as in transformers' processor), in place."""
        begin = self.rules.timestamp_begin
        eot = self.rules.eot
        logits[:, self.rules.no_timestamps] = NEG_INF
        for k, seq in enumerate(sequences):
            last_was_timestamp = len(seq) >= 1 and seq[-1] >= begin
            penultimate_was_timestamp = len(seq) < 2 or seq[-2] >= begin
            if last_was_timestamp:
                if penultimate_was_timestamp:  # a closed pair: text must follow
                    logits[k, begin:] = NEG_INF
                else:  # an open segment just closed: another timestamp or the end
                    logits[k, :eot] = NEG_INF
            last = next((t for t in reversed(seq) if t >= begin), None)
            if last is not None:
                # Timestamps never go back; do not repeat one except to open the next segment.
                floor = last if last_was_timestamp and not penultimate_was_timestamp else last + 1
                logits[k, begin:floor] = NEG_INF
        if first:
            # The transcript opens with a timestamp, at most max_initial_timestamp in.
            logits[:, :begin] = NEG_INF
            if self.rules.max_initial_timestamp is not None:
                logits[:, begin + self.rules.max_initial_timestamp + 1 :] = NEG_INF
        # If all timestamps together are likelier than the best text token, emit a timestamp.
        logprobs = logits.log_softmax(-1)
        timestamp_logprob = logprobs[:, begin:].logsumexp(-1)
        best_text = logprobs[:, :begin].max(-1).values
        logits[:, :begin].masked_fill_((timestamp_logprob > best_text).unsqueeze(1), NEG_INF)


class DecoderCache:
    """Keys and values of one batch: self-attention (grown in place) and cross-attention."""

    def __init__(self, cross: list[tuple[torch.Tensor, torch.Tensor]], capacity: int) -> None:
        batch, heads, _, head_dim = cross[0][0].shape
        like = cross[0][0]
        self.cross = cross
        shape = (len(cross), batch, heads, capacity, head_dim)
        self.keys = like.new_empty(shape)
        self.values = like.new_empty(shape)
        self.length = 0

    def select(self, index: torch.Tensor) -> None:
        """Keep only the rows at ``index`` (rows that finished leave the batch)."""
        self.cross = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.cross]
        self.keys = self.keys.index_select(1, index)
        self.values = self.values.index_select(1, index)


class WhisperDecoderStep:
    """One pass of a transformers ``WhisperDecoder`` over new tokens, on a ``DecoderCache``.

    Same arithmetic as transformers' forward (pre-norm layers, queries scaled
    before the product, GELU MLP, final norm), calling the same modules, so
    int8 linears stay int8. Returns the final hidden state of the last position.
    """

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        first = decoder.layers[0].self_attn
        self.heads = first.num_heads
        self.head_dim = first.head_dim
        self.positions = decoder.embed_positions.weight
        self.capacity = self.positions.shape[0]

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, length, d_model) to (batch, heads, length, head_dim)."""
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def new_cache(self, encoded: torch.Tensor) -> DecoderCache:
        """Project the encoder frames to each layer's cross-attention keys and values, once."""
        cross = [
            (
                self._split(layer.encoder_attn.k_proj(encoded)).contiguous(),
                self._split(layer.encoder_attn.v_proj(encoded)).contiguous(),
            )
            for layer in self.decoder.layers
        ]
        return DecoderCache(cross, self.capacity)

    def __call__(self, ids: torch.Tensor, cache: DecoderCache) -> torch.Tensor:
        """The final hidden state at the last new position, per row."""
        return self.run(ids, cache)[0][:, -1]

    def run(
        self,
        ids: torch.Tensor,
        cache: DecoderCache,
        heads: Sequence[tuple[int, int]] = (),
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The final hidden states of every new position, and the cross-attention
        scores (before the softmax) of the ``(layer, head)`` pairs in ``heads``,
        as (batch, len(heads), new tokens, frames), or None without ``heads``.
        Word timestamps use them (``speech_recognition_alignment``).
        """
        batch, n = ids.shape
        by_layer: dict[int, list[int]] = {}
        for layer_index, head in heads:
            by_layer.setdefault(layer_index, []).append(head)
        kept: dict[tuple[int, int], torch.Tensor] = {}
        start, end = cache.length, cache.length + n
        if end > self.capacity:
            raise ValueError(f"Whisper's decoder takes at most {self.capacity} tokens.")
        x = self.decoder.embed_tokens(ids) + self.positions[start:end]
        # Several new tokens (the prompt) see only themselves and what came before.
        mask = (
            torch.ones(n, end, dtype=torch.bool, device=ids.device).tril(start)
            if n > 1
            else None
        )
        for i, layer in enumerate(self.decoder.layers):
            attn = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            q = self._split(attn.q_proj(h) * attn.scaling)
            cache.keys[i, :, :, start:end] = self._split(attn.k_proj(h))
            cache.values[i, :, :, start:end] = self._split(attn.v_proj(h))
            out = F.scaled_dot_product_attention(
                q, cache.keys[i, :, :, :end], cache.values[i, :, :, :end], attn_mask=mask, scale=1.0
            )
            x = x + attn.out_proj(out.transpose(1, 2).reshape(batch, n, -1))

            attn = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            q = self._split(attn.q_proj(h) * attn.scaling)
            keys, values = cache.cross[i]
            # One query against 1500 frames: a plain product beats the flash kernel on CPU.
            scores = q @ keys.transpose(-1, -2)
            for head in by_layer.get(i, ()):
                kept[i, head] = scores[:, head]
            weights = torch.softmax(scores, dim=-1)
            x = x + attn.out_proj((weights @ values).transpose(1, 2).reshape(batch, n, -1))

            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        cache.length = end
        captured = torch.stack([kept[pair] for pair in heads], dim=1) if heads else None
        return self.decoder.layer_norm(x), captured
