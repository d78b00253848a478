"""Request bodies of the OpenAI-compatible routes (pydantic; bad input is a 400 in OpenAI's shape).

Fields that OpenAI clients send but that change nothing here (``user``, ``store``,
``metadata``) are accepted; features the suite does not have (tools, JSON mode,
``logit_bias``) are refused by name rather than ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared_models.types.generation import MAX_TOP_LOGPROBS

# Extra fields that are fine to ignore: they ask for nothing the answer would lack.
HARMLESS_EXTRAS = frozenset(
    {"user", "store", "metadata", "service_tier", "parallel_tool_calls", "prompt_cache_key",
     "safety_identifier"}
)  # fmt: skip
# Fields whose absence of effect would silently change the answer: refused when set.
UNSUPPORTED = {
    "tools": "tools (function calling)",
    "tool_choice": "tool_choice",
    "functions": "functions (function calling)",
    "function_call": "function_call",
    "response_format": "response_format (JSON mode)",
    "logit_bias": "logit_bias",
    "audio": "audio output",
    "prediction": "prediction",
    "web_search_options": "web search",
    "reasoning_effort": "reasoning_effort",
    "echo": "echo",
    "suffix": "suffix",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")

    def unsupported(self) -> list[str]:
        """Names of set fields this server cannot honour."""
        out = []
        for name, value in (self.model_extra or {}).items():
            if name in HARMLESS_EXTRAS or value in (None, False, {}, [], ""):
                continue
            if (
                name == "response_format"
                and isinstance(value, dict)
                and value.get("type") == "text"
            ):
                continue
            if name == "modalities" and value == ["text"]:
                continue
            out.append(UNSUPPORTED.get(name, name))
        return out


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(_Body):
    model: str
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1)
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def stops(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(s for s in stops if s)


class ChatBody(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[dict[str, Any]] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)


class CompletionBody(_Sampling):
    """``POST /v1/completions``: ``logprobs`` is the number of alternatives (legacy, at most 5)."""

    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0, le=5)
    best_of: int | None = Field(None, ge=1)


class EmbeddingBody(_Body):
    """``POST /v1/embeddings``."""

    model: str
    input: Any
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
