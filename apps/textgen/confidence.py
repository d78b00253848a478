"""How sure the model was of each token it wrote: probabilities, and the text coloured by them.

Ask for them with ``logprobs=True`` (``TextGenerator.generate``/``stream``, or
``GenerationOptions(logprobs=True)``). The probability of a token is ``exp(logprob)``
under the model's distribution at that step (after repetition penalties, before
temperature, top-k and top-p, which only shape the draw): a low one marks a place
where the model hesitated, often a guess worth checking.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass

from shared_models.types.generation import TokenLogprob

# Bands for colouring, highest first: (lowest probability, label, background).
# Backgrounds are translucent so the text stays readable on light and dark themes.
BANDS = (
    (0.9, "sure (≥ 90%)", "rgba(34, 197, 94, 0.18)"),
    (0.5, "likely (50–90%)", "rgba(234, 179, 8, 0.30)"),
    (0.2, "unsure (20–50%)", "rgba(249, 115, 22, 0.40)"),
    (0.0, "guess (< 20%)", "rgba(239, 68, 68, 0.50)"),
)
_PARTIAL = "\ufffd"  # what one token decodes to when it is only part of a character


@dataclass(frozen=True)
class TokenConfidence:
    """One generated token: its text, probability, and the likeliest alternatives."""

    text: str
    probability: float
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()  # (token, probability), likeliest first


class ScoredText(str):
    """Generated text (a ``str``) that also carries ``tokens``: each token's confidence.

    What ``TextGenerator.generate(..., logprobs=True)`` returns.
    """

    tokens: tuple[TokenConfidence, ...]

    def __new__(cls, text: str, tokens: Iterable[TokenConfidence]) -> ScoredText:
        out = super().__new__(cls, text)
        out.tokens = tuple(tokens)
        return out


def token_confidences(logprobs: Iterable[TokenLogprob] | None) -> tuple[TokenConfidence, ...]:
    """The core's ``TokenLogprob`` entries as probabilities."""
    return tuple(
        TokenConfidence(lp.token, math.exp(lp.logprob), lp.logprob,
                        tuple((t, math.exp(v)) for t, v in lp.top))  # fmt: skip
        for lp in logprobs or ()
    )


def segments(text: str, tokens: Iterable[TokenConfidence]) -> list[tuple[str, float | None]]:
    """``text`` cut into (piece, probability) runs that concatenate to exactly ``text``.

    Tokens that are only part of a character (one emoji or CJK character may take
    several) are joined, with the product of their probabilities. Tokens beyond the
    text (a stop string that was cut off) are dropped; text no token explains (none
    should be) gets ``None``.
    """
    out: list[tuple[str, float | None]] = []
    at, pending = 0, 1.0
    waiting = False  # partial-character tokens wait for the next whole one
    for token in tokens:
        if at >= len(text):
            break
        if _PARTIAL in token.text or not token.text:
            pending *= token.probability
            waiting = True
            continue
        found = text.find(token.text, at)
        if found < 0:  # cut by a stop string: the rest of the text is this token's start
            out.append((text[at:], pending * token.probability))
            at = len(text)
            break
        if found > at:  # the characters the waiting partial tokens made
            out.append((text[at:found], pending if waiting else None))
        elif waiting:
            token = TokenConfidence(token.text, token.probability * pending, token.logprob)
        out.append((token.text, token.probability))
        at, pending, waiting = found + len(token.text), 1.0, False
    if at < len(text):
        out.append((text[at:], pending if waiting else None))
    return out


def band(probability: float) -> tuple[str, str]:
    """(label, background) of the band a probability falls in."""
    for lowest, label, colour in BANDS:
        if probability >= lowest:
            return label, colour
    return BANDS[-1][1], BANDS[-1][2]


def legend_html() -> str:
    items = "".join(
        f'<span class="sb-conf-key" style="background:{colour};padding:0 .4em;margin-left:.5em;'
        f'border-radius:3px">{html.escape(label)}</span>'
        for _, label, colour in BANDS
    )
    return f'<div class="sb-conf-legend">Model confidence per token: {items}</div>'


def confidence_html(text: str, tokens: Iterable[TokenConfidence]) -> str:
    """The text as escaped HTML, each token's background coloured by its probability.

    Hovering a token shows its probability. A legend follows.
    """
    spans = []
    for piece, p in segments(text, tokens):
        body = html.escape(piece)  # newlines stay: the box keeps white space (pre-wrap)
        if p is None:
            spans.append(body)
            continue
        label, colour = band(p)
        tip = html.escape(f"{p:.1%} ({label})", quote=True)
        spans.append(f'<span class="sb-conf" data-p="{p:.4f}" title="{tip}" '
                     f'style="background:{colour}">{body}</span>')  # fmt: skip
    return (
        '<div class="sb-conf-text" style="white-space:pre-wrap;line-height:1.7">'
        + "".join(spans) + "</div>" + legend_html()
    )  # fmt: skip
