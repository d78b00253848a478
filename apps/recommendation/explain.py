"""Why an item is recommended, how strongly, and why another one is not.

The recommender's explanations, as plain data:

- ``Reason``: a history item behind a recommendation ("Because you liked X") with its
  strength: the model's similarity between X and the item and, where the model's score
  is a sum over the user's items (Item-kNN, EASE, the hybrid, BPR for new users), X's
  share of the positive part of that sum. The top reason and up to two runner-ups that
  come close are kept.
- ``TextEvidence``: for the hybrid model, the words of the recommended item's text that
  its match with X rests on, found by occlusion: each word is left out, the text is
  re-embedded by the shared encoder, and the drop in the pair's score is the word's weight.
- ``WhyNot``: an item's rank for a user, its score against the top-k cut-off, and its
  nearest reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# A reason's runner-ups are shown when their strength is at least this share of the
# top reason's: "close", not every item the user ever liked.
RUNNER_UP_RATIO = 0.5
MAX_REASONS = 3
# Occlusion re-embeds the item's text once per word: bounded for long descriptions.
MAX_OCCLUSION_WORDS = 40
MAX_TEXT_WORDS = 3

# Words, keeping inner hyphens and apostrophes ("Sci-Fi", "Children's").
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
# ``data.item_text`` writes "Title. Text. Tags: a, b": the label is not the item's text.
_LABELS = frozenset({"Tags"})


@dataclass(frozen=True)
class Reason:
    """A history item behind a recommendation, and how strongly it counts.

    Attributes:
        item_id, title: the item the user liked.
        similarity: the model's item-item similarity between it and the recommended item
            (a cosine for Item-kNN, BPR and the hybrid; an EASE weight for EASE).
        share: its share (0-1) of the positive evidence behind the recommended item's
            score, for models whose score is a sum over the user's items; else ``None``.
    """

    item_id: str
    title: str
    similarity: float
    share: float | None = None

    @property
    def strength(self) -> float:
        """What reasons are ranked by: the share where there is one, else the similarity."""
        return self.share if self.share is not None else self.similarity


@dataclass(frozen=True)
class TextEvidence:
    """A word of the recommended item's text, and how much of its match it carries.

    ``weight`` is the fall in the (liked item, recommended item) score when the word is
    left out, as a fraction of that score: 0.3 means the score drops by 30% without it.
    """

    word: str
    weight: float


@dataclass(frozen=True)
class WhyNot:
    """Where an item stands for a user, and what ties it to their history.

    ``rank`` counts among the items the user has not seen (1 = recommended first; ties
    share the better rank); it is ``None`` when the user has already seen the item.
    """

    user_id: str
    item_id: str
    title: str
    k: int
    seen: bool
    rank: int | None
    candidates: int
    score: float | None
    cutoff: float | None
    reasons: tuple[Reason, ...] = ()
    text_evidence: tuple[TextEvidence, ...] = ()

    @property
    def in_top_k(self) -> bool:
        return self.rank is not None and self.rank <= self.k

    def summary(self) -> str:
        """One sentence a person can read."""
        if self.seen:
            return (f"User {self.user_id} has already interacted with {self.title}; "
                    "recommendations leave out what a user has seen.")
        verdict = f"is in the top {self.k}" if self.in_top_k else f"is not in the top {self.k}"
        gap = "" if self.in_top_k or self.cutoff is None or self.score is None else (
            f", {self.cutoff - self.score:.4g} below the cut-off")
        return (f"{self.title} ranks {self.rank:,} of {self.candidates:,} unseen items for user "
                f"{self.user_id}: it {verdict} (score {self.score:.4g}, top-{self.k} cut-off "
                f"{self.cutoff:.4g}{gap}).")


def pick_reasons(strengths: np.ndarray) -> list[int]:
    """Indices of the reasons to show for one item: the strongest, then close runner-ups.

    ``strengths`` are per history item (shares, or similarities when there are none);
    only positive ones count as a reason.
    """
    order = np.argsort(-strengths, kind="stable")[:MAX_REASONS]
    order = [int(i) for i in order if strengths[i] > 0]
    if not order:
        return []
    top = strengths[order[0]]
    return [order[0]] + [i for i in order[1:] if strengths[i] >= RUNNER_UP_RATIO * top]


def shares_of(contributions: np.ndarray) -> np.ndarray:
    """Each row's share of the positive part of each column's sum (history x items)."""
    positive = np.clip(contributions, 0, None)
    total = positive.sum(axis=0, keepdims=True)
    return np.divide(positive, total, out=np.zeros_like(positive), where=total > 0)


def words(text: str) -> list[str]:
    """The distinct words of an item's text, in order, that occlusion tries."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text):
        if w not in _LABELS:
            seen.setdefault(w, None)
    return list(seen)[:MAX_OCCLUSION_WORDS]


def without(text: str, word: str) -> str:
    """The text with every whole occurrence of ``word`` left out."""
    out = re.sub(rf"(?<![\w'’-]){re.escape(word)}(?![\w'’-])", "", text)
    return re.sub(r"\s+", " ", out).strip()


def text_evidence(candidates: list[str], full: float, occluded: np.ndarray) -> tuple[TextEvidence, ...]:
    """The words whose removal lowers the score most (positive drops only, strongest first)."""
    if full <= 0:
        return ()
    drops = (full - occluded) / full
    order = np.argsort(-drops, kind="stable")
    return tuple(TextEvidence(candidates[i], float(drops[i])) for i in order[:MAX_TEXT_WORDS] if drops[i] > 0)
