"""Text comparison metrics for transcripts: a normaliser and word error rate.

Kept apart from the speech role because evaluation code (tests, the speech
app's quality page) needs it without loading any model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref != hyp),  # substitution or match
            )
        previous = current
    return previous[-1]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: total word edits over total reference words, after ``normalize_text``.

    Pooling over the corpus (rather than averaging per-utterance rates) keeps a
    short utterance from dominating the score.
    """
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses must have the same length")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_words, hyp_words = normalize_text(ref).split(), normalize_text(hyp).split()
        errors += edit_distance(ref_words, hyp_words)
        words += len(ref_words)
    if words == 0:
        raise ValueError("the references contain no words")
    return errors / words
