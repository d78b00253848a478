"""Sampling controls, checked with messages a person can act on.

The generation role checks its requests too; checking here first means the page
can say what is wrong before any work is queued, in the words of its controls.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.errors import InvalidInputError
from shared_models.types.generation import CHAT_SAMPLING
from shared_models.types.generation_training import valid_adapter_name

# Stop sequences per request and characters per stop sequence: each one is searched
# for in the whole output at every step, so a few short ones are what makes sense.
MAX_STOP_SEQUENCES = 8
MAX_STOP_CHARS = 64
# Highest temperature accepted: beyond this sampling is near-uniform noise over the
# vocabulary, which is never what someone wants from a copywriting tool.
MAX_TEMPERATURE = 5.0
MAX_REPETITION_PENALTY = 10.0


@dataclass(frozen=True)
class GenerationOptions:
    """How to sample. Defaults follow Qwen2.5's recommended chat settings.

    ``temperature`` 0 means greedy (always the most likely token). ``seed`` makes
    sampling repeatable; None draws a fresh one. ``stop`` strings end the text
    (they are not included). ``adapter`` names a LoRA adapter trained on the model
    (``TextGenerator.fine_tune``); None is the base model. ``logprobs`` asks for each
    generated token's probability (``TextStream.tokens``, see ``apps.textgen.confidence``).
    """

    max_new_tokens: int = CHAT_SAMPLING.max_new_tokens
    temperature: float = CHAT_SAMPLING.temperature
    top_p: float = CHAT_SAMPLING.top_p
    top_k: int = CHAT_SAMPLING.top_k
    repetition_penalty: float = CHAT_SAMPLING.repetition_penalty
    seed: int | None = None
    stop: tuple[str, ...] = ()
    adapter: str | None = None
    logprobs: bool = False

    def checked(self, max_new_tokens_limit: int) -> GenerationOptions:
        """Return a normalised copy, or raise ``InvalidInputError`` naming the bad control."""
        max_new = _integer("Max new tokens", self.max_new_tokens)
        if not 1 <= max_new <= max_new_tokens_limit:
            raise InvalidInputError(
                f"Max new tokens must be between 1 and {max_new_tokens_limit} for this model, "
                f"got {max_new}."
            )
        temperature = _number("Temperature", self.temperature)
        if not 0 <= temperature <= MAX_TEMPERATURE:
            raise InvalidInputError(
                f"Temperature must be between 0 (greedy) and {MAX_TEMPERATURE}, got {temperature}."
            )
        top_p = _number("Top-p", self.top_p)
        if not 0 < top_p <= 1:
            raise InvalidInputError(f"Top-p must be above 0 and at most 1, got {top_p}.")
        top_k = _integer("Top-k", self.top_k)
        if top_k < 0:
            raise InvalidInputError(f"Top-k must be 0 (no limit) or more, got {top_k}.")
        penalty = _number("Repetition penalty", self.repetition_penalty)
        if not 0 < penalty <= MAX_REPETITION_PENALTY:
            raise InvalidInputError(
                f"Repetition penalty must be above 0 and at most {MAX_REPETITION_PENALTY} "
                f"(1.0 means none), got {penalty}."
            )
        seed = None if self.seed is None else _integer("Seed", self.seed)
        return GenerationOptions(
            max_new, temperature, top_p, top_k, penalty, seed, check_stops(self.stop),
            check_adapter(self.adapter), bool(self.logprobs),
        )  # fmt: skip

    def as_request_kwargs(self) -> dict:
        return asdict(self)


def _number(label: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{label} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise InvalidInputError(f"{label} must be a finite number, got {value!r}.")
    return float(value)


def _integer(label: str, value: object) -> int:
    number = _number(label, value)
    if not number.is_integer():
        raise InvalidInputError(f"{label} must be a whole number, got {value!r}.")
    return int(number)


def check_adapter(adapter: object) -> str | None:
    """An adapter name (None or "" for the base model); the name's shape only."""
    if adapter is None or adapter == "":
        return None
    if not valid_adapter_name(adapter):
        raise InvalidInputError(
            "Adapter names are 1-64 lower-case letters, digits, '-' or '_'; "
            f"got {adapter!r}."
        )
    return adapter  # type: ignore[return-value]


def check_stops(stop: object) -> tuple[str, ...]:
    """Validate stop sequences: a string or a list of strings, none empty."""
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, list | tuple):
        raise InvalidInputError(
            f"Stop sequences must be a list of strings, got {type(stop).__name__}."
        )
    if len(stop) > MAX_STOP_SEQUENCES:
        raise InvalidInputError(
            f"{len(stop)} stop sequences given; the limit is {MAX_STOP_SEQUENCES}."
        )
    out: list[str] = []
    for s in stop:
        if not isinstance(s, str) or not s:
            raise InvalidInputError(f"Each stop sequence must be non-empty text, got {s!r}.")
        if len(s) > MAX_STOP_CHARS:
            raise InvalidInputError(
                f"A stop sequence is {len(s)} characters; the limit is {MAX_STOP_CHARS}."
            )
        if s not in out:
            out.append(s)
    return tuple(out)


def parse_stop_text(text: str | None) -> tuple[str, ...]:
    r"""Stop sequences from a text box: one per line; ``\n`` and ``\t`` mean a newline and a tab.

    Lines are kept as typed (a stop like " 8," has meaningful spaces); blank lines
    are skipped.
    """
    if not text:
        return ()
    stops = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip() and "\\" not in line:
            continue
        stops.append(line.replace("\\n", "\n").replace("\\t", "\t"))
    return check_stops(stops)
