"""Fitting prompts into the model's context, with a notice whenever something is cut.

The generation role keeps the *last* tokens of an over-long prompt. That is right
for raw text the model continues, but wrong for a chat: it would cut the system
prompt and the chat template's opening. So prompts are fitted here first, where
the structure is known:

- a chat drops its oldest turns (never the system prompt or the latest message);
- a template cuts the end of its longest field (the document being summarised),
  keeping the instructions around it;
- a raw prompt keeps its end, like the role would.

Every cut produces a human-readable notice; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import ModelHandle
from core.errors import InvalidInputError
from shared_models.types.generation import (
    ChatTemplateRequest,
    DetokenizeRequest,
    GenerationModelInfo,
    TokenizeRequest,
)

from .templates import Template

# Characters accepted in one prompt, document or chat message before tokenizing.
# Six times the default model's context in English; far beyond that the input is a
# mistake (a pasted file), and tokenizing megabytes only to drop them wastes the CPU.
MAX_INPUT_CHARS = 100_000
_ELLIPSIS = " […]"
_MARGIN = 8  # tokens of slack: re-tokenizing a cut text may merge differently


@dataclass
class Fitted:
    """A prompt that fits: ``messages`` (chat) or ``prompt`` (raw), and what was cut."""

    messages: list[dict[str, str]] | None
    prompt: str | None
    tokens: int
    notices: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return bool(self.notices)


def check_text(label: str, text: object) -> str:
    """A non-empty string within ``MAX_INPUT_CHARS`` (raises ``InvalidInputError``)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{label} must be text, got {type(text).__name__}.")
    if "\x00" in text:
        raise InvalidInputError(f"{label} contains a NUL character; is it a binary file?")
    if not text.strip():
        raise InvalidInputError(f"{label} is empty. Type something for the model to work on.")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidInputError(
            f"{label} is {len(text):,} characters; the limit is {MAX_INPUT_CHARS:,}. "
            "Split it into parts."
        )
    return text


class ContextWindow:
    """A model's context size, with counting and fitting through its generation handle.

    Tokenizing, detokenizing and rendering the chat template are requests to the
    generation role (answered at once, beside any generation in progress), so the
    app never holds the model's tokenizer and works the same whether the model runs
    in this process or on a cluster.
    """

    def __init__(self, handle: ModelHandle, info: GenerationModelInfo) -> None:
        self.handle = handle
        self.model = handle.name
        self.context_tokens = int(info.context_tokens)
        self.max_new_tokens = int(info.max_new_tokens)  # the role's upper limit per request
        self.has_chat_template = info.has_chat_template

    # ------------------------------------------------------------------ counting
    def encode(self, text: str) -> list[int]:
        return self.handle.call([TokenizeRequest(text=text)])[0]

    def decode(self, ids: list[int]) -> str:
        return self.handle.call([DetokenizeRequest(list(ids))])[0]

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The chat as the model sees it (its chat template, ending with the assistant's turn)."""
        self._require_chat_template()
        return self.handle.call([ChatTemplateRequest(messages)])[0]

    def _require_chat_template(self) -> None:
        if not self.has_chat_template:
            raise InvalidInputError(
                f"{self.model} has no chat template; send a raw prompt instead."
            )

    def count(self, messages: list[dict[str, str]] | None = None, prompt: str | None = None) -> int:
        """Prompt tokens of a chat (with its template) or of raw text."""
        if messages is not None:
            self._require_chat_template()
            return len(self.handle.call([TokenizeRequest(messages=messages)])[0])
        return len(self.encode(prompt or ""))

    def budget(self, max_new_tokens: int) -> int:
        """Prompt tokens available when ``max_new_tokens`` are kept for the answer."""
        return self.context_tokens - max_new_tokens

    # ------------------------------------------------------------------ fitting
    def fit_prompt(self, prompt: str, max_new_tokens: int) -> Fitted:
        """Raw text: keep its end (what the model continues) if it is too long."""
        ids = self.encode(prompt)
        budget = self.budget(max_new_tokens)
        if len(ids) <= budget:
            return Fitted(None, prompt, len(ids))
        kept = self.decode(ids[-(budget - _MARGIN) :])
        tokens = len(self.encode(kept))
        return Fitted(
            None,
            kept,
            tokens,
            [
                f"The prompt was {len(ids):,} tokens; {self._limit_phrase(max_new_tokens)} its first "
                f"{len(ids) - tokens:,} tokens were dropped and the last {tokens:,} kept."
            ],
        )

    def fit_chat(self, messages: list[dict[str, str]], max_new_tokens: int) -> Fitted:
        """A chat: drop the oldest turns, then shorten the longest message that is left."""
        budget = self.budget(max_new_tokens)
        messages = [dict(m) for m in messages]
        tokens = self.count(messages)
        if tokens <= budget:
            return Fitted(messages, None, tokens)
        notices: list[str] = []
        start = tokens
        system = [m for m in messages if m["role"] == "system"][:1]
        turns = [m for m in messages if m not in system]
        dropped = 0
        while tokens > budget and len(turns) > 1:
            turns.pop(0)
            dropped += 1
            while len(turns) > 1 and turns[0]["role"] != "user":  # a chat starts with the user
                turns.pop(0)
                dropped += 1
            tokens = self.count(system + turns)
        if dropped:
            notices.append(
                f"The conversation was {start:,} tokens; {self._limit_phrase(max_new_tokens)} "
                f"the {dropped} oldest message(s) were left out."
            )
        messages = system + turns
        if tokens > budget:
            longest = max(range(len(messages)), key=lambda i: len(messages[i]["content"]))
            if messages[longest]["role"] == "system" and len(turns) == 1:
                longest = len(messages) - 1  # shorten the request, not the instructions, first
            messages, tokens, notice = self._shrink(
                messages, longest, tokens, budget, max_new_tokens, "The message"
            )
            notices.append(notice)
        return Fitted(messages, None, tokens, notices)

    def fit_template(
        self, template: Template, values: dict[str, str], max_new_tokens: int
    ) -> Fitted:
        """A filled template: cut the end of its longest field value if it does not fit."""
        messages = template.render(**values)
        tokens = self.count(messages)
        budget = self.budget(max_new_tokens)
        if tokens <= budget:
            return Fitted(messages, None, tokens)
        name = max(values, key=lambda n: len(values[n]))
        label = next(f.label for f in template.fields if f.name == name)
        original = self.encode(values[name])
        values = dict(values)
        for _ in range(4):  # re-check: cut text can tokenize a little differently
            ids = self.encode(values[name])
            keep = len(ids) - (tokens - budget) - _MARGIN
            if keep <= 0:
                break
            values[name] = self.decode(ids[:keep]).rstrip() + _ELLIPSIS
            messages = template.render(**values)
            tokens = self.count(messages)
            if tokens <= budget:
                kept = len(self.encode(values[name]))
                return Fitted(
                    messages,
                    None,
                    tokens,
                    [
                        f"'{label}' was {len(original):,} tokens; {self._limit_phrase(max_new_tokens)} "
                        f"it was cut to its first {kept:,} tokens (the end was left out)."
                    ],
                )
        raise InvalidInputError(
            f"The template's own text does not fit in {self.model}'s {self.context_tokens:,}-token "
            f"context with {max_new_tokens} new tokens; lower Max new tokens."
        )

    def _shrink(
        self,
        messages: list[dict[str, str]],
        index: int,
        tokens: int,
        budget: int,
        max_new_tokens: int,
        what: str,
    ) -> tuple[list[dict[str, str]], int, str]:
        content = messages[index]["content"]
        original = len(self.encode(content))
        for _ in range(4):
            ids = self.encode(messages[index]["content"])
            keep = len(ids) - (tokens - budget) - _MARGIN
            if keep <= 0:
                break
            messages[index] = {
                **messages[index],
                "content": self.decode(ids[:keep]).rstrip() + _ELLIPSIS,
            }
            tokens = self.count(messages)
            if tokens <= budget:
                kept = len(self.encode(messages[index]["content"]))
                role = messages[index]["role"]
                return (
                    messages,
                    tokens,
                    f"{what} ({role}) was {original:,} tokens; {self._limit_phrase(max_new_tokens)} "
                    f"it was cut to its first {kept:,} tokens (the end was left out).",
                )
        raise InvalidInputError(
            f"The prompt does not fit in {self.model}'s {self.context_tokens:,}-token context even "
            f"after shortening; shorten the system prompt or lower Max new tokens ({max_new_tokens})."
        )

    def _limit_phrase(self, max_new_tokens: int) -> str:
        return (
            f"to fit {self.model}'s {self.context_tokens:,}-token context with room for "
            f"{max_new_tokens} new tokens,"
        )
