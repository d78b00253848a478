"""Word and character error rates with a normaliser for case, punctuation and numbers.

English text goes through Whisper's own English normaliser (from transformers):
spelled-out numbers become digits ("twenty-five dollars" and "$25" both read
"$25"), "Mr." becomes "mister", contractions are expanded, fillers ("um")
dropped. Then ``normalize_text`` lowercases and removes punctuation. Other
languages get only ``normalize_text``. Character error rate ignores spaces, so it
suits Chinese and Japanese, which are written without them.

This is the project's one implementation of these metrics: the app's quality
page, its evaluation command, the benchmarks and the model tests all use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation, and collapse whitespace, for fair word comparison.

    Hyphens and slashes become spaces ("ill-disposed" -> "ill disposed") and
    apostrophes inside words are kept ("don't"), so the score measures words
    heard, not the transcriber's punctuation style.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = re.sub(r"[-\u2010-\u2015/]", " ", text)
    # Keep letters, digits, marks and in-word apostrophes; everything else separates words.
    text = "".join(ch if ch == "'" or unicodedata.category(ch)[0] in "LNM" else " " for ch in text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _english():
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    # No British->American spelling table is bundled offline; the rest applies.
    return EnglishTextNormalizer({})


def normalize_transcript(
    text: str, language: str | None = "en", *, english_rules: bool = True
) -> str:
    """Text as it is compared for error rates (see the module doc).

    ``english_rules=False`` skips Whisper's English normaliser even for English:
    only ``normalize_text`` applies (the benchmark reports both scores).
    """
    if english_rules and language in (None, "en", "english"):
        text = _english()(text)
    return normalize_text(text)


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance, one numpy row at a time (fast enough for hour-long transcripts)."""
    vocab: dict = {}
    ref = np.array([vocab.setdefault(t, len(vocab)) for t in reference], dtype=np.int64)
    hyp = np.array([vocab.setdefault(t, len(vocab)) for t in hypothesis], dtype=np.int64)
    ramp = np.arange(len(hyp) + 1)
    previous = ramp.copy()
    for i, token in enumerate(ref, start=1):
        current = np.empty_like(previous)
        current[0] = i
        # Deletion (from above) and substitution/match (from the diagonal) ...
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (hyp != token))
        # ... then insertions, a running minimum along the row: c[j] = min_k(c[k] + j - k).
        current = np.minimum.accumulate(current - ramp) + ramp
        previous = current
    return int(previous[-1])


def _rate(pairs: list[tuple[list, list]]) -> float:
    total = sum(len(r) for r, _ in pairs)
    if total == 0:
        raise ValueError("the references contain no words")
    return sum(edit_distance(r, h) for r, h in pairs) / total


def word_error_rate(
    references: Sequence[str],
    hypotheses: Sequence[str],
    language: str | None = "en",
    *,
    english_rules: bool = True,
) -> float:
    """Corpus WER (total edits / total reference words) after ``normalize_transcript``.

    Pooling over the corpus (rather than averaging per-utterance rates) keeps a
    short utterance from dominating the score.
    """
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses must have the same length")

    def words(text: str) -> list[str]:
        return normalize_transcript(text, language, english_rules=english_rules).split()

    return _rate([(words(r), words(h)) for r, h in zip(references, hypotheses, strict=True)])


def character_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], language: str | None = None
) -> float:
    """Corpus CER over normalised characters, spaces removed."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses must have the same length")

    def chars(text: str) -> list[str]:
        return list(normalize_transcript(text, language).replace(" ", ""))

    return _rate([(chars(r), chars(h)) for r, h in zip(references, hypotheses, strict=True)])
