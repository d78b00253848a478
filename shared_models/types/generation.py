"""Text generation role: requests, results and stream events.

Send to ``manager.handle("generation")``:

- ``GenerationRequest`` -> ``GenerationResult`` with ``call``; with ``stream`` it
  yields ``TextPiece`` events, then the ``GenerationResult`` as the last event;
- ``PerplexityRequest`` -> ``float``;
- ``TokenizeRequest`` -> ``list[int]`` (raw text, or a chat rendered with the
  model's template when ``messages`` is given);
- ``DetokenizeRequest`` -> ``str``;
- ``ChatTemplateRequest`` -> ``str`` (the chat as the model sees it);
- ``ModelInfoRequest`` -> ``GenerationModelInfo``.

The last four are answered at once, beside any decoding in progress (they are
``direct``: they never wait in a batch behind a long generation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .events import new_request_id

ROLE = "generation"
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
TINY_MODEL = "smollm2-135m"

FinishReason = Literal["stop", "length", "cancelled", "eos"]


@dataclass(frozen=True)
class SamplingDefaults:
    """The one source of default sampling settings.

    ``REQUEST`` is what a bare ``GenerationRequest`` uses (the role's neutral
    defaults). ``CHAT`` follows Qwen2.5's recommended chat settings and is what the
    text generation app and its page start from.
    """

    max_new_tokens: int
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float


REQUEST_SAMPLING = SamplingDefaults(
    max_new_tokens=128, temperature=0.7, top_p=0.95, top_k=50, repetition_penalty=1.0
)
CHAT_SAMPLING = SamplingDefaults(
    max_new_tokens=256, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05
)


@dataclass
class GenerationRequest:
    """One generation request. Give exactly one of ``messages`` or ``prompt``.

    ``messages`` is a chat (``[{"role": "user", "content": "..."}]``) rendered with
    the model's chat template, ending with the assistant's turn. ``prompt`` is raw
    text that the model continues, with no template.

    Sampling: ``temperature`` 0 is greedy; otherwise tokens are drawn from the
    ``top_k`` most likely (0: no limit) within ``top_p`` probability mass.
    ``repetition_penalty`` > 1 discourages tokens already in the prompt or output.
    ``presence_penalty`` and ``frequency_penalty`` (each in [-2, 2], OpenAI's
    semantics) subtract from a token's logit once if it already appears in the
    output, and once per time it appears, respectively. ``logprobs`` asks for the
    log-probability of each generated token (``GenerationResult.token_logprobs``,
    and on each streamed ``TextPiece``), with the ``top_logprobs`` (0 to 20) most
    likely alternatives at each position. A ``seed`` (any int) makes sampling repeatable run after run. Generation ends at
    an end-of-turn token, at ``max_new_tokens``, at the first of the ``stop``
    strings (which is not included in the text), or when the request is cancelled
    (``handle.cancel(request_id)``, or the stream's ``cancel()``).

    ``adapter`` names a LoRA adapter trained on this model (``generation-training``),
    served on the shared base; None is the base model alone.
    """

    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    max_new_tokens: int = REQUEST_SAMPLING.max_new_tokens
    temperature: float = REQUEST_SAMPLING.temperature
    top_p: float = REQUEST_SAMPLING.top_p
    top_k: int = REQUEST_SAMPLING.top_k
    repetition_penalty: float = REQUEST_SAMPLING.repetition_penalty
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: bool = False
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()
    adapter: str | None = None
    request_id: str = field(default_factory=new_request_id)


MAX_TOP_LOGPROBS = 20  # as OpenAI's API


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability, and the most likely alternatives.

    The log-probabilities are of the distribution the token was drawn from after
    repetition, presence and frequency penalties, before temperature, top-k and
    top-p (which only shape the draw). ``top`` holds ``(token, logprob)`` pairs,
    most likely first (empty unless ``top_logprobs`` was asked for).
    """

    token: str
    token_id: int
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class TextPiece:
    """A stream event: the next piece of generated text.

    The pieces of one stream concatenate to the final ``GenerationResult.text``.
    ``logprobs`` (when the request asked for them) are those of the tokens decoded
    since the previous piece; a token held back (half a character, the start of a
    stop string) rides with a later piece.
    """

    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True)
class GenerationResult:
    """The outcome of one ``GenerationRequest`` (and the last event of its stream).

    ``finish_reason``: "eos" (the model ended its turn), "stop" (a stop string was
    reached), "length" (``max_new_tokens`` reached) or "cancelled".
    ``prompt_truncated`` is True when the prompt did not fit in the context and its
    oldest tokens were dropped; ``prompt_tokens`` counts what was actually used.
    ``token_logprobs`` (when the request asked for them) has one entry per new token,
    the end-of-turn token excluded.
    """

    text: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: FinishReason
    prompt_truncated: bool = False
    token_logprobs: tuple[TokenLogprob, ...] | None = None


StreamEvent = TextPiece | GenerationResult


@dataclass(frozen=True)
class PerplexityRequest:
    """Ask for the perplexity of ``text`` under the model (the result is a ``float``).

    Lower means the model finds the text more predictable. Text longer than the
    model's window is scored with a sliding window.

    With ``context``, only ``text``'s tokens are scored, each given the context and the
    text before it: how well the context explains the text (customer service uses it to
    check that an FAQ entry explains a customer's question). The context keeps its last
    tokens when the two exceed the window.
    """

    text: str
    adapter: str | None = None  # score under this LoRA adapter of the model
    context: str | None = None


@dataclass(frozen=True)
class TokenizeRequest:
    """Token ids of raw ``text``, or of ``messages`` rendered with the chat template."""

    text: str | None = None
    messages: list[dict[str, Any]] | None = None
    direct: ClassVar[bool] = True


@dataclass(frozen=True)
class DetokenizeRequest:
    """Text of token ids (special tokens skipped)."""

    ids: list[int]
    direct: ClassVar[bool] = True


@dataclass(frozen=True)
class ChatTemplateRequest:
    """A chat as the model sees it: its chat template, ending with the assistant's turn."""

    messages: list[dict[str, Any]]
    direct: ClassVar[bool] = True


@dataclass(frozen=True)
class ModelInfoRequest:
    """Ask for the model's context size and limits (the result is ``GenerationModelInfo``)."""

    direct: ClassVar[bool] = True


@dataclass(frozen=True)
class GenerationModelInfo:
    """What an app needs to know to fit prompts to a generation model."""

    context_tokens: int  # prompt + new tokens
    max_new_tokens: int  # the most one request may ask for
    has_chat_template: bool
