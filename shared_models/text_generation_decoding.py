"""The text generation runner: batched prefill, one batched step per token, per-row sampling.

Concurrent requests are decoded together: one forward pass per step serves the
whole batch, while each row keeps its own sampling settings, seed, stop sequences
and stream. With continuous batching (the default, ``text_generation_scheduler``)
requests join and leave the running batch between steps; otherwise a batch runs to
its end before the next starts. Prompt beginnings already seen (a fixed system prompt, say) are not
prefilled again: their keys and values come from a small per-model prefix cache
(``text_generation_cache``). Streamed rows send ``TextPiece`` events into their
``core.streaming.StreamChannel`` and stop when it is cancelled.

Loading and registration live in ``text_generation``; the request and result types
in ``shared_models.types.generation``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import torch

from core.errors import InvalidInputError
from core.registry import ModelRunner
from core.streaming import StreamChannel

from .sampling import (
    SamplingParams,
    apply_presence_frequency_penalties,
    apply_repetition_penalty,
    select_tokens,
)
from .text_generation_adapters import BASE, AdapterSet
from .text_generation_batch import DecodeBatch, kv_bytes_per_token, merge, plain_layers, select
from .text_generation_cache import PrefixCache, PrefixMatch
from .text_generation_scheduler import DecodeLimits, DecodeScheduler
from .types.generation import (
    MAX_TOP_LOGPROBS,
    ChatTemplateRequest,
    DetokenizeRequest,
    FinishReason,
    GenerationModelInfo,
    GenerationRequest,
    GenerationResult,
    ModelInfoRequest,
    PerplexityRequest,
    TextPiece,
    TokenizeRequest,
    TokenLogprob,
)

log = logging.getLogger(__name__)

# Perplexity scores windows of this many tokens, advancing half a window at a time
# so every scored token sees at least half a window of context. Its logits
# (window/2 x vocab floats) stay around 300 MB for Qwen's 152k vocabulary.
PERPLEXITY_WINDOW = 1024
# Longer texts are refused rather than tying up the model for minutes.
PERPLEXITY_MAX_TOKENS = 32_768
# Tokens that end a turn in common chat templates; treated as EOS when present.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
_REPLACEMENT = "\ufffd"  # what a partial UTF-8 sequence decodes to
# Memory for cached prompt prefixes (keys/values) per loaded model. Qwen2.5-0.5B needs
# 24 KB a token, so this holds a dozen 250-token prompts; SmolLM2 several times more.
PREFIX_CACHE_MB = 64

# --------------------------------------------------------------------------- streaming text
class _TextTracker:
    """Turns the decoded text of a growing token list into stable stream pieces.

    Holds back a trailing replacement character (a multi-byte character whose
    remaining bytes are in the next token) and any tail that could be the start
    of a stop string, so nothing emitted ever has to be taken back.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.emitted = ""

    def update(self, text: str, final: bool) -> tuple[str, bool]:
        """Return (new piece to emit, whether a stop string was reached)."""
        cut = -1
        for stop in self.stops:
            idx = text.find(stop)
            if idx != -1 and (cut == -1 or idx < cut):
                cut = idx
        if cut != -1:
            return self._advance(text[: max(cut, len(self.emitted))]), True
        if not final:
            text = text.rstrip(_REPLACEMENT)
            text = text[: len(text) - self._partial_stop(text)]
        return self._advance(text), False

    def _partial_stop(self, text: str) -> int:
        """Length of the longest tail of ``text`` that begins some stop string."""
        hold = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), hold, -1):
                if text.endswith(stop[:n]):
                    hold = n
                    break
        return hold

    def _advance(self, visible: str) -> str:
        # Byte-level BPE decodes prefix-stably, so ``visible`` extends ``emitted``;
        # we slice by length so the stream and the result can never disagree.
        piece = visible[len(self.emitted) :]
        self.emitted += piece
        return piece


@dataclass
class _Row:
    """Decode state of one generation request inside a batch."""

    slot: int  # index in the runner's input list
    request: GenerationRequest
    prompt_ids: list[int]
    truncated: bool
    params: SamplingParams
    generator: torch.Generator
    tracker: _TextTracker
    channel: StreamChannel | None = None  # set when the request is streamed
    adapter: str = BASE  # the LoRA key of the row's adapter in the model
    generated: list[int] = field(default_factory=list)
    result: GenerationResult | None = None
    logprobs: list[TokenLogprob] | None = None  # one per generated token, when asked for
    logprobs_sent: int = 0  # how many of them went out with streamed pieces
    error: BaseException | None = None  # set instead of a result when the row failed
    done: threading.Event = field(default_factory=threading.Event)  # result or error is set

    def emit(self, piece: str) -> None:
        if piece and self.channel is not None:
            lps = None
            if self.logprobs is not None:
                lps = tuple(self.logprobs[self.logprobs_sent :])
                self.logprobs_sent = len(self.logprobs)
            self.channel.emit(TextPiece(piece, lps))

    @property
    def cancelled(self) -> bool:
        return self.channel is not None and self.channel.cancelled

    def finish(self, reason: FinishReason, text: str) -> None:
        self.result = GenerationResult(
            text=text,
            prompt_tokens=len(self.prompt_ids),
            new_tokens=len(self.generated),
            finish_reason=reason,
            prompt_truncated=self.truncated,
            token_logprobs=tuple(self.logprobs) if self.logprobs is not None else None,
        )


@dataclass
class _Prefill:
    """Prompts being prefilled together, possibly over several chunks."""

    rows: list[_Row]
    cache: Any  # transformers DynamicCache
    plain: bool  # full-attention layers only: prefixes can be cached
    ids: torch.Tensor  # [B, tail] the prompt tokens still to feed, left-padded
    mask: torch.Tensor  # [B, head + tail]
    positions: torch.Tensor  # [B, tail]
    head: int  # columns filled from the prefix cache
    tail: int
    cached: list[int]  # per row, how many prompt tokens came from the prefix cache
    seen: torch.Tensor | None
    counts: torch.Tensor | None
    done: int = 0  # tail columns fed so far


# --------------------------------------------------------------------------- runner
class TextGenerator(ModelRunner):
    """A causal LM behind a batch call, with a batched, per-row sampled decode loop.

    Input: any request of ``shared_models.types.generation`` (mixed is fine).
    Output: per item a ``GenerationResult``, a ``float`` (perplexity), token ids,
    text, or ``GenerationModelInfo``; a bad item yields an ``InvalidInputError``
    for its caller only. Tokenizer-only requests never wait for the decode lock.
    Requests naming a LoRA adapter run in the same batch as the others, on the same
    base (``text_generation_adapters``).
    """

    dynamic_memory = True  # adapters load after the base: the core re-reads memory_bytes

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        context_tokens: int,
        max_new_tokens_limit: int,
        prefix_cache_mb: float = PREFIX_CACHE_MB,
        adapters: AdapterSet | None = None,
        decode_limits: DecodeLimits | None = None,
    ) -> None:
        self.model = model
        self.adapters = adapters
        self.tokenizer = tokenizer
        model_max = getattr(model.config, "max_position_embeddings", None) or context_tokens
        self.context_tokens = min(context_tokens, int(model_max))
        # Leave room for some prompt: max_new_tokens may not eat the whole context.
        self.max_new_tokens = max(1, min(max_new_tokens_limit, self.context_tokens // 2))
        self.device = next(model.parameters()).device
        self._tokenizer_lock = threading.Lock()  # fast tokenizers are not safe across threads
        self.eos_ids = self._eos_ids()
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else next(iter(self.eos_ids), 0))
        self._lock = threading.Lock()  # one decode loop at a time on this model
        # Prompts sharing a beginning (a system prompt, a chat template header) reuse
        # its keys/values instead of prefilling it again; 0 turns this off.
        self.prefix_cache = PrefixCache(int(prefix_cache_mb * 2**20))
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self.kv_bytes_per_token = kv_bytes_per_token(model.config, next(model.parameters()).dtype)
        # Continuous batching needs caches it can cut and join (plain full attention).
        from transformers import DynamicCache

        continuous = decode_limits is not None and plain_layers(DynamicCache(config=model.config))
        self.scheduler = DecodeScheduler(self, decode_limits, name=type(model).__name__) if continuous else None

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (
            self.model.config.eos_token_id,
            getattr(getattr(self.model, "generation_config", None), "eos_token_id", None),
            self.tokenizer.eos_token_id,
        ):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list | tuple):
                ids.update(int(v) for v in value)
        vocab = self.tokenizer.get_vocab()
        ids.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
        return ids

    # ------------------------------------------------------------------ batch entry
    def __call__(self, inputs: list[Any]) -> list[Any]:
        return self.run_streams(inputs, [None] * len(inputs))

    def run_streams(self, inputs: list[Any], channels: list[StreamChannel | None]) -> list[Any]:
        outputs: list[Any] = [None] * len(inputs)
        rows: list[_Row] = []
        scoring: list[int] = []
        for i, (item, channel) in enumerate(zip(inputs, channels, strict=True)):
            try:
                if isinstance(item, GenerationRequest):
                    rows.append(self._prepare(i, item, channel))
                elif isinstance(item, PerplexityRequest):
                    if not isinstance(item.text, str) or not item.text.strip():
                        raise InvalidInputError("PerplexityRequest.text must be a non-empty string.")
                    if item.context is not None and not isinstance(item.context, str):
                        raise InvalidInputError("PerplexityRequest.context must be a string or None.")
                    scoring.append(i)
                else:
                    outputs[i] = self._answer_directly(item)
            except InvalidInputError as exc:
                outputs[i] = exc
        if not rows and not scoring:
            return outputs
        if self.scheduler is not None:
            self._run_continuous(inputs, rows, scoring, outputs)
            return outputs
        with self._lock, torch.inference_mode():
            rows = self._with_adapters(rows, outputs)
            if rows:
                self._decode(rows)
                for row in rows:
                    outputs[row.slot] = row.result
            for i in scoring:  # each text is its own forward pass; lengths vary too much to pad
                try:
                    adapter = self._adapter_key(inputs[i].adapter, set())
                    outputs[i] = self._perplexity(inputs[i].text, adapter, inputs[i].context)
                except InvalidInputError as exc:
                    outputs[i] = exc
            if self.adapters is not None:
                self.adapters.set_rows(None)
        return outputs

    def _run_continuous(self, inputs: list[Any], rows: list[_Row], scoring: list[int], outputs: list[Any]) -> None:
        """Hand the rows to the decode loop (they join the running batch) and wait for them."""
        scheduler = self.scheduler
        for i in scoring:
            def score(
                text: str = inputs[i].text, name: str | None = inputs[i].adapter, context: str | None = inputs[i].context
            ) -> float:
                return self._perplexity(text, self._adapter_key(name, scheduler.adapters_in_use()), context)

            try:
                outputs[i] = scheduler.exclusive(score)
            except InvalidInputError as exc:
                outputs[i] = exc
        scheduler.generate(rows)
        for row in rows:
            outputs[row.slot] = row.error if row.error is not None else row.result

    def serving_stats(self) -> dict[str, int] | None:
        """The decode loop's sequences (active, prefilling, waiting) and counters."""
        return self.scheduler.stats() if self.scheduler is not None else None

    def close(self) -> None:
        """Stop the decode loop, then drop the model."""
        if self.scheduler is not None:
            self.scheduler.close()
        super().close()

    # ------------------------------------------------------------------ adapters
    def _with_adapters(self, rows: list[_Row], outputs: list[Any]) -> list[_Row]:
        """Load the adapters the rows name (under the decode lock); bad names fail their row only."""
        wanted = {r.request.adapter for r in rows if r.request.adapter is not None}
        if not wanted:
            return rows
        ready = []
        for row in rows:
            try:
                row.adapter = self._adapter_key(row.request.adapter, wanted)
            except InvalidInputError as exc:
                outputs[row.slot] = exc
                continue
            ready.append(row)
        return ready

    def _adapter_key(self, name: str | None, keep: set[Any]) -> str:
        if name is None:
            return BASE
        if not isinstance(name, str):
            raise InvalidInputError(f"adapter must be an adapter name or None, got {type(name).__name__}.")
        if self.adapters is None:
            raise InvalidInputError("This generation model cannot serve LoRA adapters.")
        return self.adapters.key(name, keep)

    def _set_rows(self, rows: list[_Row]) -> None:
        if self.adapters is not None and self.adapters.active:
            self.adapters.set_rows([r.adapter for r in rows])

    # ------------------------------------------------------------------ tokenizer requests
    def _answer_directly(self, item: Any) -> Any:
        """Requests the tokenizer alone answers: counting, rendering, model facts."""
        if isinstance(item, TokenizeRequest):
            if (item.text is None) == (item.messages is None):
                raise InvalidInputError("TokenizeRequest takes exactly one of text or messages.")
            if item.messages is not None:
                return self._tokenize(self._render_chat(self._checked_messages(item.messages)))
            if not isinstance(item.text, str):
                raise InvalidInputError(f"text must be a string, got {type(item.text).__name__}.")
            return self._tokenize(item.text)
        if isinstance(item, DetokenizeRequest):
            ids = item.ids
            if not isinstance(ids, list | tuple) or not all(
                isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in ids
            ):
                raise InvalidInputError("DetokenizeRequest.ids must be a list of token ids.")
            with self._tokenizer_lock:
                return self.tokenizer.decode(
                    list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
                )
        if isinstance(item, ChatTemplateRequest):
            return self._render_chat(self._checked_messages(item.messages))
        if isinstance(item, ModelInfoRequest):
            return GenerationModelInfo(
                context_tokens=self.context_tokens,
                max_new_tokens=self.max_new_tokens,
                has_chat_template=bool(getattr(self.tokenizer, "chat_template", None)),
            )
        raise InvalidInputError(f"{type(item).__name__} is not a text generation request.")

    def _tokenize(self, text: str) -> list[int]:
        with self._tokenizer_lock:
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ------------------------------------------------------------------ validation
    def _prepare(self, slot: int, req: GenerationRequest, channel: StreamChannel | None) -> _Row:
        """Check one request and tokenize it (raises ``InvalidInputError``)."""
        self._check_params(req)
        ids = self._encode(req)
        budget = self.context_tokens - req.max_new_tokens
        truncated = len(ids) > budget
        if truncated:
            ids = ids[-budget:]  # keep the most recent text
        seed = req.seed if req.seed is not None else int.from_bytes(os.urandom(8), "little")
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)  # torch takes 64 bits
        return _Row(
            slot=slot,
            request=req,
            prompt_ids=ids,
            truncated=truncated,
            params=SamplingParams(
                float(req.temperature), int(req.top_k), float(req.top_p), float(req.repetition_penalty)
            ),
            generator=generator,
            tracker=_TextTracker(tuple(req.stop)),
            channel=channel,
            logprobs=[] if req.logprobs else None,
        )

    def _check_params(self, req: GenerationRequest) -> None:
        def number(name: str, value: Any, kind: type) -> None:
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            if not ok or isinstance(value, bool) or not math.isfinite(value):
                raise InvalidInputError(f"{name} must be a finite {kind.__name__}, got {value!r}.")

        number("max_new_tokens", req.max_new_tokens, int)
        number("temperature", req.temperature, float)
        number("top_p", req.top_p, float)
        number("top_k", req.top_k, int)
        number("repetition_penalty", req.repetition_penalty, float)
        if not 1 <= req.max_new_tokens <= self.max_new_tokens:
            raise InvalidInputError(
                f"max_new_tokens must be between 1 and {self.max_new_tokens}, got {req.max_new_tokens}."
            )
        if req.temperature < 0:
            raise InvalidInputError(f"temperature must be >= 0 (0 is greedy), got {req.temperature}.")
        if not 0 < req.top_p <= 1:
            raise InvalidInputError(f"top_p must be in (0, 1], got {req.top_p}.")
        if req.top_k < 0:
            raise InvalidInputError(f"top_k must be >= 0 (0 means no limit), got {req.top_k}.")
        if req.repetition_penalty <= 0:
            raise InvalidInputError(
                f"repetition_penalty must be > 0 (1.0 means none), got {req.repetition_penalty}."
            )
        number("presence_penalty", req.presence_penalty, float)
        number("frequency_penalty", req.frequency_penalty, float)
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(req, name) <= 2:
                raise InvalidInputError(f"{name} must be between -2 and 2, got {getattr(req, name)}.")
        if not isinstance(req.logprobs, bool):
            raise InvalidInputError(f"logprobs must be true or false, got {req.logprobs!r}.")
        top = req.top_logprobs
        if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= MAX_TOP_LOGPROBS:
            raise InvalidInputError(
                f"top_logprobs must be an int from 0 to {MAX_TOP_LOGPROBS}, got {top!r}."
            )
        if top and not req.logprobs:
            raise InvalidInputError("top_logprobs needs logprobs=True.")
        if req.seed is not None and (not isinstance(req.seed, int) or isinstance(req.seed, bool)):
            raise InvalidInputError(f"seed must be an int or None, got {req.seed!r}.")
        if not isinstance(req.stop, tuple | list) or not all(isinstance(s, str) and s for s in req.stop):
            raise InvalidInputError("stop must be a tuple of non-empty strings.")

    def _encode(self, req: GenerationRequest) -> list[int]:
        if (req.messages is None) == (req.prompt is None):
            raise InvalidInputError("Give exactly one of messages (a chat) or prompt (raw text).")
        if req.prompt is not None:
            if not isinstance(req.prompt, str) or not req.prompt.strip():
                raise InvalidInputError("prompt must be a non-empty string.")
            return self._tokenize(req.prompt)
        # The template already holds any BOS/special tokens it wants.
        return self._tokenize(self._render_chat(self._checked_messages(req.messages)))

    @staticmethod
    def _checked_messages(messages: Any) -> list[dict[str, Any]]:
        if not isinstance(messages, list) or not messages:
            raise InvalidInputError("messages must be a non-empty list of {role, content} dicts.")
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise InvalidInputError("Each message must be a dict with a string 'role'.")
            if not isinstance(m.get("content"), str):
                raise InvalidInputError(
                    f"Message content must be a string, got {type(m.get('content')).__name__}."
                )
        if not any(m["content"].strip() for m in messages):
            raise InvalidInputError("The messages are all empty.")
        return messages

    def _render_chat(self, messages: list[dict[str, Any]]) -> str:
        """The chat as the model sees it, ending with the assistant's turn."""
        if not self.tokenizer.chat_template:
            raise InvalidInputError("This model has no chat template; send a raw prompt instead.")
        try:
            with self._tokenizer_lock:
                return self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
        except Exception as exc:  # templates raise on e.g. roles out of order
            raise InvalidInputError(f"The chat could not be rendered for this model: {exc}") from exc

    # ------------------------------------------------------------------ decoding
    def _decode(self, rows: list[_Row]) -> None:
        """Static batching: prefill all prompts at once, then step until every row is done."""
        live = [row for row in rows if not self._admitted_cancelled(row)]
        if not live:
            return
        prefill = self.start_prefill(live)
        _, batch = self.prefill_step(prefill, chunk=prefill.tail)
        while batch is not None:
            batch = self.decode_step(batch)

    # The engine the continuous scheduler drives (``text_generation_scheduler.Engine``).
    def admit(self, row: _Row, keep: set[str]) -> None:
        """Get a waiting row ready to join: finish it if cancelled, load its adapter."""
        if self._admitted_cancelled(row):
            return
        row.adapter = self._adapter_key(row.request.adapter, keep)

    def _admitted_cancelled(self, row: _Row) -> bool:
        if self._cancelled(row):
            row.finish("cancelled", "")
            return True
        return False

    def start_prefill(self, live: list[_Row]) -> _Prefill:
        """Lay out the prompts of rows that start together (nothing runs yet).

        Prompts are left-padded so every row's next token is in the last column;
        explicit position ids make padding invisible to the model. A row whose
        prompt starts like one seen before takes that part's keys/values from the
        prefix cache and prefills only the rest.
        """
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        plain = plain_layers(cache)
        # A disabled cache finds nothing but still counts the prompt tokens.
        # Keys and values depend on the adapter (LoRA changes q, k, v): only base rows share.
        matches = [
            self.prefix_cache.lookup(r.prompt_ids) if plain and r.adapter == BASE else None
            for r in live
        ]
        cached = [m.length if m is not None else 0 for m in matches]
        # Columns: [cached prefix, left-aligned | new prompt tokens, left-padded]. Each
        # row's mask covers its own prefix and suffix, and explicit position ids make
        # the holes between them invisible to the model.
        head = max(cached)
        tail = max(len(r.prompt_ids) - n for r, n in zip(live, cached, strict=True))
        width = head + tail
        ids = torch.full((len(live), tail), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(live), width), dtype=torch.long)
        for b, (row, n) in enumerate(zip(live, cached, strict=True)):
            suffix = row.prompt_ids[n:]
            ids[b, tail - len(suffix) :] = torch.tensor(suffix)
            mask[b, :n] = 1
            mask[b, width - len(suffix) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, head:]
        if head:
            _fill_prefix(cache, matches, head)
        seen = None
        if any(r.params.repetition_penalty != 1.0 for r in live):
            seen = torch.zeros((len(live), self.vocab_size), dtype=torch.bool, device=self.device)
            for b, row in enumerate(live):
                seen[b, torch.tensor(row.prompt_ids, device=self.device)] = True
        # Presence/frequency penalties count generated tokens only (OpenAI's definition).
        counts = None
        if any(r.request.presence_penalty or r.request.frequency_penalty for r in live):
            counts = torch.zeros((len(live), self.vocab_size), dtype=torch.float32, device=self.device)
        return _Prefill(live, cache, plain, ids, mask, positions, head, tail, cached, seen, counts)

    def prefill_step(self, prefill: _Prefill, chunk: int) -> tuple[bool, DecodeBatch | None]:
        """Prefill the next ``chunk`` prompt columns; when the prompts are done, sample each
        row's first token. Returns (done, the rows still going as a batch, or None)."""
        end = min(prefill.done + max(1, chunk), prefill.tail)
        self._set_rows(prefill.rows)
        out = self.model(
            input_ids=prefill.ids[:, prefill.done : end],
            attention_mask=prefill.mask[:, : prefill.head + end],
            position_ids=prefill.positions[:, prefill.done : end],
            cache=prefill.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        prefill.done = end
        if end < prefill.tail:
            return False, None
        if prefill.plain and self.prefix_cache.enabled:
            self._remember_prompts(prefill.cache, prefill.rows, prefill.cached, prefill.head + prefill.tail)
        batch = DecodeBatch(
            rows=list(prefill.rows),
            cache=prefill.cache,
            mask=prefill.mask,
            next_pos=prefill.mask.sum(-1),
            seen=prefill.seen,
            counts=prefill.counts,
        )
        return True, self._sample(batch, out.logits[:, -1, :].float())

    def decode_step(self, batch: DecodeBatch) -> DecodeBatch | None:
        """Feed each row its last sampled token and sample the next; finished rows leave."""
        step_ids = torch.tensor([[r.generated[-1]] for r in batch.rows], device=self.device)
        if batch.seen is not None:
            batch.seen.scatter_(1, step_ids, True)
        if batch.counts is not None:
            batch.counts.scatter_add_(1, step_ids, batch.counts.new_ones((len(batch), 1)))
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch), 1))], dim=1)
        self._set_rows(batch.rows)
        out = self.model(
            input_ids=step_ids,
            attention_mask=batch.mask,
            position_ids=batch.next_pos.unsqueeze(1),
            cache=batch.cache,
            use_cache=True,
        )
        batch.next_pos = batch.next_pos + 1
        return self._sample(batch, out.logits[:, -1, :].float())

    def join(self, running: DecodeBatch | None, joining: DecodeBatch | None) -> DecodeBatch | None:
        """The running batch with freshly prefilled rows added (either may be None)."""
        if running is None or joining is None:
            return running if joining is None else joining
        return merge(running, joining, self.vocab_size)

    def idle(self) -> None:
        """Nothing is decoding: forward passes outside the loop run on the base model."""
        if self.adapters is not None:
            self.adapters.set_rows(None)

    def _sample(self, batch: DecodeBatch, logits: torch.Tensor) -> DecodeBatch | None:
        """Pick each row's next token under its own settings; keep the rows that go on."""
        rows = batch.rows
        if batch.seen is not None:
            penalties = torch.tensor([r.params.repetition_penalty for r in rows], device=self.device)
            logits = apply_repetition_penalty(logits, batch.seen, penalties)
        if batch.counts is not None:
            logits = apply_presence_frequency_penalties(
                logits,
                batch.counts,
                torch.tensor([r.request.presence_penalty for r in rows], device=self.device),
                torch.tensor([r.request.frequency_penalty for r in rows], device=self.device),
            )
        tokens = select_tokens(logits, [r.params for r in rows], [r.generator for r in rows])
        self._record_logprobs(rows, logits, tokens)
        keep = [b for b, (row, tok) in enumerate(zip(rows, tokens, strict=True)) if self._step(row, tok)]
        if not keep:
            return None
        return select(batch, keep)

    def _remember_prompts(
        self, cache: Any, live: list[_Row], cached: list[int], width: int
    ) -> None:
        """Copy each row's prompt keys/values out of the batch cache into the prefix cache."""
        for b, (row, n) in enumerate(zip(live, cached, strict=True)):
            if n == len(row.prompt_ids) - 1 or row.adapter != BASE:
                continue  # the same prompt again (already cached), or an adapter's keys
            start = width - (len(row.prompt_ids) - n)
            cols = torch.cat([torch.arange(n), torch.arange(start, width)]).to(self.device)
            kv = torch.stack(
                [torch.stack((la.keys[b][:, cols], la.values[b][:, cols])) for la in cache.layers]
            )
            self.prefix_cache.store(row.prompt_ids, kv)

    def _record_logprobs(self, live: list[_Row], logits: torch.Tensor, tokens: list[int]) -> None:
        """Note each chosen token's log-probability (and the top alternatives) for rows that asked.

        An end-of-turn token is not recorded: it is not part of the output.
        """
        wanted = [b for b, row in enumerate(live) if row.logprobs is not None and tokens[b] not in self.eos_ids]
        if not wanted:
            return
        logp = torch.log_softmax(logits[wanted], dim=-1)
        width = max(live[b].request.top_logprobs for b in wanted)
        top_v, top_i = logp.topk(width, dim=-1) if width else (None, None)
        chosen = logp.gather(1, torch.tensor([[tokens[b]] for b in wanted], device=logp.device))
        for j, b in enumerate(wanted):
            row = live[b]
            top: tuple[tuple[str, float], ...] = ()
            if row.request.top_logprobs:
                k = row.request.top_logprobs
                ids = top_i[j, :k].tolist()
                top = tuple(
                    (self._token_text(i), float(v)) for i, v in zip(ids, top_v[j, :k].tolist(), strict=True)
                )
            row.logprobs.append(
                TokenLogprob(self._token_text(tokens[b]), int(tokens[b]), float(chosen[j, 0]), top)
            )

    def _token_text(self, token: int) -> str:
        with self._tokenizer_lock:
            return self.tokenizer.decode([token], skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _step(self, row: _Row, token: int) -> bool:
        """Apply one sampled token to a row; return whether the row goes on."""
        if self._cancelled(row):
            row.finish("cancelled", row.tracker.emitted)
            return False
        if token in self.eos_ids:
            row.emit(row.tracker.update(self._text(row), final=True)[0])
            row.finish("eos", row.tracker.emitted)
            return False
        row.generated.append(token)
        done = len(row.generated) >= row.request.max_new_tokens
        piece, stopped = row.tracker.update(self._text(row), final=done)
        row.emit(piece)
        if stopped:
            row.finish("stop", row.tracker.emitted)
        elif done:
            row.finish("length", row.tracker.emitted)
        elif self._cancelled(row):  # the consumer went away while we emitted
            row.finish("cancelled", row.tracker.emitted)
        return row.result is None

    def _text(self, row: _Row) -> str:
        # Decoding all generated ids each step (not token by token) is what keeps
        # multi-byte characters split over tokens intact.
        with self._tokenizer_lock:
            return self.tokenizer.decode(
                row.generated, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )

    @staticmethod
    def _cancelled(row: _Row) -> bool:
        return row.cancelled

    # ------------------------------------------------------------------ perplexity
    def _perplexity(self, text: str, adapter: str = BASE, context: str | None = None) -> float:
        """exp(mean negative log-likelihood) over the text's tokens, after the first
        (with a ``context``: over all of them, each given the context before it)."""
        if self.adapters is not None and self.adapters.active:
            self.adapters.set_rows([adapter])
        if context:
            return self._conditional_perplexity(context, text)
        ids = self._tokenize(text)
        if len(ids) < 2:
            raise InvalidInputError("Perplexity needs a text of at least two tokens.")
        if len(ids) > PERPLEXITY_MAX_TOKENS:
            raise InvalidInputError(
                f"The text is {len(ids)} tokens; perplexity takes at most {PERPLEXITY_MAX_TOKENS}."
            )
        window = min(PERPLEXITY_WINDOW, self.context_tokens)
        stride = window // 2
        tokens = torch.tensor(ids, device=self.device)
        total, count, scored_to = 0.0, 0, 1  # token 0 has no prediction
        begin = 0
        while scored_to < len(ids):
            end = min(begin + window, len(ids))
            chunk = tokens[begin:end].unsqueeze(0)
            targets = end - scored_to  # tokens in this window not scored yet
            logits = self.model(input_ids=chunk, logits_to_keep=targets + 1).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, tokens[scored_to:end], reduction="sum")
            total += float(nll)
            count += targets
            scored_to = end
            begin += stride
        return float(torch.exp(torch.tensor(total / count)))

    def _conditional_perplexity(self, context: str, text: str) -> float:
        """Perplexity of ``text``'s tokens after ``context``, in one forward pass."""
        window = min(PERPLEXITY_WINDOW, self.context_tokens)
        target = self._tokenize(text)
        if len(target) >= window:
            raise InvalidInputError(
                f"The text is {len(target)} tokens; after a context it may have at most {window - 1}."
            )
        prefix = self._tokenize(context)[-(window - len(target)) :]
        if not prefix:  # a context of only whitespace: score the text alone
            return self._perplexity(text)
        tokens = torch.tensor(prefix + target, device=self.device)
        logits = self.model(input_ids=tokens.unsqueeze(0), logits_to_keep=len(target) + 1).logits[0, :-1]
        nll = torch.nn.functional.cross_entropy(logits.float(), tokens[len(prefix) :], reduction="mean")
        return float(torch.exp(nll))


def _fill_prefix(cache: Any, matches: list[PrefixMatch | None], head: int) -> None:
    """Seed an empty batch cache with each row's cached prefix in its first ``head`` columns.

    Rows with a shorter (or no) prefix get zeros there; the attention mask hides them.
    """
    sample = next(m.kv for m in matches if m is not None)
    layers, _, heads, _, dim = sample.shape
    kv = sample.new_zeros((layers, 2, len(matches), heads, head, dim))
    for b, match in enumerate(matches):
        if match is not None:
            kv[:, :, b, :, : match.length] = match.kv[:, :, :, : match.length]
    for i in range(layers):
        cache.update(kv[i, 0], kv[i, 1], i)
