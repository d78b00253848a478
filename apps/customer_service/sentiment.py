"""A simple, explainable sentiment signal for support messages.

A lexicon score in [-1, 1] with boosts for shouting (CAPITALS, "!!!") and for
phrases customers use when they have had enough. Good enough to decide one
thing: whether to offer a human.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEGATIVE = {
    "angry": 2,
    "furious": 3,
    "livid": 3,
    "annoyed": 1.5,
    "frustrated": 2,
    "frustrating": 2,
    "ridiculous": 2,
    "unacceptable": 2.5,
    "terrible": 2,
    "awful": 2,
    "horrible": 2,
    "worst": 2.5,
    "useless": 2,
    "pathetic": 2.5,
    "disgrace": 2.5,
    "disgusting": 2.5,
    "rubbish": 2,
    "joke": 1,
    "incompetent": 2.5,
    "hate": 2,
    "sick": 1,
    "fed": 1,
    "scam": 2,
    "scammed": 2.5,
    "robbed": 2.5,
    "stole": 2,
    "shocking": 2,
    "appalling": 2.5,
    "outrageous": 2.5,
    "nightmare": 2,
    "complaint": 1.5,
    "complain": 1.5,
    "wtf": 3,
    "damn": 2,
    "bloody": 2,
    "crap": 2,
    "sucks": 2,
    "never": 0.5,
    "still": 0.5,
    "again": 0.5,
    "wrong": 1,
    "bad": 1,
    "poor": 1,
    "disappointed": 1.5,
    "upset": 1.5,
    "愤怒": 3,
    "生气": 2,
    "垃圾": 2.5,
    "投诉": 1.5,
    "太差": 2,
}
POSITIVE = {
    "thanks": 1.5,
    "thank": 1.5,
    "great": 1.5,
    "good": 1,
    "love": 2,
    "perfect": 2,
    "excellent": 2,
    "awesome": 2,
    "helpful": 1.5,
    "appreciate": 1.5,
    "happy": 1.5,
    "brilliant": 2,
    "谢谢": 1.5,
}
ESCALATING_PHRASES = (
    "fed up",
    "sick of",
    "had enough",
    "speak to a manager",
    "waste of time",
    "last time",
    "close my account",
    "going to complain",
    "report you",
    "this is a joke",
)
NEGATORS = {"not", "no", "never", "hardly", "isn't", "wasn't", "don't", "didn't"}
ANGRY_THRESHOLD = -0.45
_TOKEN = re.compile(r"[\w']+|[\u4e00-\u9fff]{2}", re.UNICODE)


@dataclass
class Sentiment:
    """``score`` in [-1, 1]; ``angry`` when a human should be offered."""

    score: float
    angry: bool
    label: str


def analyse(text: str) -> Sentiment:
    """Score one customer message."""
    lowered = text.lower()
    tokens = _TOKEN.findall(lowered)
    raw = 0.0
    for i, tok in enumerate(tokens):
        negated = i > 0 and tokens[i - 1] in NEGATORS
        if tok in NEGATIVE:
            raw -= NEGATIVE[tok] * (0.5 if negated else 1.0)
        elif tok in POSITIVE:
            raw += -POSITIVE[tok] * 0.5 if negated else POSITIVE[tok]
    raw -= 2.5 * sum(phrase in lowered for phrase in ESCALATING_PHRASES)
    letters = [c for c in text if c.isalpha() and c.isascii()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    exclaims = text.count("!")
    if shouting:
        raw -= 2.0
    if exclaims >= 2:
        raw -= min(exclaims, 5) * 0.5 if raw < 0 or shouting else 0.0
    score = max(-1.0, min(1.0, raw / 5.0))
    angry = score <= ANGRY_THRESHOLD
    label = (
        "angry"
        if angry
        else "negative"
        if score < -0.1
        else "positive"
        if score > 0.1
        else "neutral"
    )
    return Sentiment(round(score, 3), angry, label)
