"""Which text encoder reads the items' metadata: English MiniLM, or multilingual E5.

The hybrid model's item tower projects a text embedding of each item's title, text and
tags. MiniLM (all-MiniLM-L6-v2) is fast but English-only: a Chinese catalogue's titles
come out as near-noise. multilingual-e5-small reads Chinese, English and mixed text in one
space, at about twice MiniLM's cost, so ``"auto"`` uses it only where the text needs it.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared_models.types.embedding import DEFAULT_MODEL, MULTILINGUAL_MODEL

DEFAULT_TEXT_MODEL = DEFAULT_MODEL  # what every recommender saved before the choice used
# Share of the letters that are not ASCII above which the text is not "mostly English".
# An English catalogue with the odd "café" or "Pokémon" stays well under it (MovieLens: 0.1%).
NON_ENGLISH_SHARE = 0.05
SAMPLE_CHARS = 200_000  # enough to judge a catalogue; bounded work for huge ones


def non_english_share(texts: Iterable[str]) -> float:
    """Fraction of the letters in ``texts`` that are not ASCII (0 when there are none)."""
    letters = other = seen = 0
    for text in texts:
        for ch in text:
            if ch.isalpha():
                letters += 1
                other += not ch.isascii()
        seen += len(text)
        if seen >= SAMPLE_CHARS:
            break
    return other / letters if letters else 0.0


def choose_text_model(choice: str, texts: Iterable[str]) -> str:
    """The embedding model to read these item texts with.

    ``choice`` is ``"auto"`` or a model name (returned as given: the manager checks it
    when the handle is made)."""
    if choice != "auto":
        return choice
    return (
        MULTILINGUAL_MODEL if non_english_share(texts) > NON_ENGLISH_SHARE else DEFAULT_TEXT_MODEL
    )
