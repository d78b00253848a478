"""Hybrid retrieval (dense + BM25, fused by reciprocal rank) and calibrated confidence.

Ranking uses weighted reciprocal rank fusion, which needs no score scaling.
Confidence is a different question, "is the top entry the right answer?", so it
is a logistic model over features of the top candidate (its cosine, its margin
over the runner-up, the share of the query's terms it covers, and whether both
retrievers agree). The cosine and the margin are measured against this knowledge
base's own scale, set on import and after edits (``calibration.py``);
``GENERIC_CALIBRATION`` serves only until then. A knowledge base embedded by two
models (English: MiniLM ranks, e5 beside it) also reads the top entry's cosine and
margin as e5 alone sees them, a second opinion on the same scale-free terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .knowledge import KnowledgeBase, StoredEntry
from .lexical import _CJK

# A small k makes the top ranks count: with a few dozen entries, k=60 flattens the
# dense ranking so much that lexical overlap decides, and paraphrases share few words.
RRF_K = 1
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.3
# For CJK text BM25's word matches are stronger evidence than for English (whole
# words rarely match by accident), so the lexical weight grows with the CJK share.
CJK_LEXICAL_BOOST = 0.5
FEATURES = ("dense", "margin", "coverage", "agree")
CROSS_FEATURES = ("dense", "margin")  # for a question in another language than the KB
# With the language model's check of the match (match_check.margin) as one more term.
CHECKED_FEATURES = (*FEATURES, "llm_margin")
CHECKED_CROSS_FEATURES = (*CROSS_FEATURES, "llm_margin")
# A question counts as cross-lingual when its share of CJK characters differs from the
# knowledge base's by more than this.
CROSS_LINGUAL_GAP = 0.5
# Before a knowledge base has its own fit (it is empty): a cautious generic map.
GENERIC_CALIBRATION = {"weights": [10.0, 6.0, 3.0, 1.0], "bias": -8.5}
View = Callable[..., np.ndarray]  # (question vector, cross_lingual) -> the vector to search with


@dataclass
class Candidate:
    """One retrieved entry with the evidence behind its rank."""

    entry: StoredEntry
    fused: float
    dense: float = 0.0
    bm25: float = 0.0
    coverage: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass
class Retrieval:
    """Ranked candidates, the confidence that the first is right, and its features."""

    candidates: list[Candidate]
    confidence: float
    features: dict[str, float] = field(default_factory=dict)
    cross_lingual: bool = False  # the confidence came from the cross-language calibrator
    checked: bool = False  # the language model checked the match (features has llm_margin)
    lexical_hits: int = 0  # entries that share at least one token with the query

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class Calibrator:
    """Logistic map from top-candidate features to P(top entry answers the question).

    ``center`` and ``spread`` put the cosine and the margin on the knowledge base's own
    scale: the cosine becomes ``(cosine - center) / spread`` and the margin
    ``margin / spread`` (``calibration.py`` measures both on off-topic questions).
    ``second`` is the same scale for the second model's opinion (``dense2``, ``margin2``):
    when both are there, each scaled term is the mean of the two models' readings.
    """

    def __init__(
        self,
        weights: list[float],
        bias: float,
        features: tuple[str, ...] = FEATURES,
        center: float = 0.0,
        spread: float = 1.0,
        second: tuple[float, float] | None = None,
    ) -> None:
        self.second = None if second is None else (float(second[0]), max(float(second[1]), 1e-6))
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)
        self.features = features
        self.center = float(center)
        self.spread = max(float(spread), 1e-6)

    @classmethod
    def generic(cls) -> Calibrator:
        return cls(GENERIC_CALIBRATION["weights"], GENERIC_CALIBRATION["bias"])

    def scaled(self, features: dict[str, float]) -> list[float]:
        """The features in this map's order, cosine and margin on the knowledge base's scale."""
        dense = (features["dense"] - self.center) / self.spread
        margin = features["margin"] / self.spread
        if self.second is not None and "dense2" in features:
            # Two models, one vote each: a ranking one model is sure of and the other
            # doubts is the likeliest wrong answer (bench/RESULTS.md, eighth session).
            center2, spread2 = self.second
            dense = (dense + (features["dense2"] - center2) / spread2) / 2
            margin = (margin + features["margin2"] / spread2) / 2
        values = {**features, "dense": dense, "margin": margin}
        return [values[f] for f in self.features]

    def __call__(self, features: dict[str, float]) -> float:
        z = float(np.dot(self.weights, self.scaled(features))) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def features_of(
    candidates: list[Candidate], dense_hits: list[tuple[int, float]], lexical_best: int | None
) -> dict[str, float]:
    """Scale-free evidence about the top candidate."""
    top = candidates[0]
    others = [s for num, s in dense_hits if num != top.entry.num]
    runner_up = max(others) if others else 0.0
    return {
        "dense": top.dense,
        "margin": top.dense - runner_up,
        "coverage": top.coverage,
        "agree": 1.0
        if dense_hits and dense_hits[0][0] == top.entry.num and lexical_best == top.entry.num
        else 0.0,
    }


def second_opinion(scores: dict[int, float], top: int) -> dict[str, float]:
    """The top entry's cosine and margin as the second model sees them, from that model's
    cosine for each entry (``scores``), and that model's own best cosine (its scale is
    measured on that, as the first model's is on its top cosine)."""
    others = [s for num, s in scores.items() if num != top]
    dense = scores.get(top, 0.0)
    best = max(scores.values()) if scores else 0.0
    return {"dense2": dense, "margin2": dense - (max(others) if others else 0.0), "best2": best}


def cjk_share(text: str) -> float:
    """Share of the non-space characters that are Chinese, Japanese or Korean."""
    chars = [c for c in text if not c.isspace()]
    return sum(bool(_CJK.match(c)) for c in chars) / len(chars) if chars else 0.0


def fuse(
    query: str,
    entries: dict[int, StoredEntry],
    dense_hits: list[tuple[int, float]],
    bm25: dict[int, float],
    coverage: dict[int, float],
    similarity: Callable[[int], float],
    k: int,
) -> tuple[list[Candidate], dict[str, float]]:
    """Rank by weighted reciprocal rank fusion; return the top ``k`` and their features.

    ``similarity(num)`` gives the exact cosine of an entry outside the dense hits.
    Calibration calls this with held-out hits, so both see the same ranking.
    """
    depth = max(k, 20)
    lexical_hits = sorted(bm25.items(), key=lambda kv: -kv[1])[:depth]
    fused: dict[int, Candidate] = {}
    for rank, (num, score) in enumerate(dense_hits):
        entry = entries.get(num)
        if entry is None:
            continue
        cand = fused.setdefault(num, Candidate(entry, 0.0))
        cand.dense, cand.dense_rank = score, rank
        cand.fused += DENSE_WEIGHT / (RRF_K + rank + 1)
    lexical_weight = LEXICAL_WEIGHT + CJK_LEXICAL_BOOST * cjk_share(query)
    for rank, (num, score) in enumerate(lexical_hits):
        entry = entries.get(num)
        if entry is None:
            continue
        cand = fused.setdefault(num, Candidate(entry, 0.0))
        cand.bm25, cand.lexical_rank = score, rank
        cand.fused += lexical_weight / (RRF_K + rank + 1)
    for num, cand in fused.items():
        cand.coverage = coverage.get(num, 0.0)
        if cand.dense_rank is None:  # outside the dense top-k: score it exactly
            cand.dense = similarity(num)
    ranked = sorted(fused.values(), key=lambda c: -c.fused)[:k]
    if not ranked:
        return [], {}
    return ranked, features_of(ranked, dense_hits, lexical_hits[0][0] if lexical_hits else None)


class HybridRetriever:
    """Dense + lexical search over a knowledge base, with that knowledge base's calibrator."""

    def __init__(
        self,
        kb: KnowledgeBase,
        calibrator: Calibrator | None = None,
        view: View | None = None,
        second_view: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.kb = kb
        self.calibrator = calibrator or Calibrator.generic()
        self.cross_calibrator: Calibrator | None = None
        # The maps for a match the language model has checked (calibration.py), by generation
        # model; a model without one does not check.
        self.checked_calibrators: dict[str, Calibrator] = {}
        self.checked_cross_calibrators: dict[str, Calibrator] = {}
        self.kb_cjk_share = 0.0  # of the knowledge base's questions; set by the bot
        # How a question's vector is weighed before the search (embedders.Embedders.view).
        self.view: View = view or (lambda vector, cross_lingual=False: vector)
        # With two models: the question as the second one alone sees it (embedders.Embedders).
        self.second_view = second_view

    def is_cross_lingual(self, query: str) -> bool:
        return abs(cjk_share(query) - self.kb_cjk_share) > CROSS_LINGUAL_GAP

    def search(self, query: str, query_vector: np.ndarray, k: int = 5) -> Retrieval:
        cross = self.is_cross_lingual(query)
        raw_vector = query_vector
        query_vector = self.view(query_vector, cross)
        dense_hits = self.kb.dense_search(query_vector, max(k, 20))
        bm25, coverage = self.kb.lexical_search(query)
        ranked, feats = fuse(
            query,
            self.kb.entries,
            dense_hits,
            bm25,
            coverage,
            lambda num: self.kb.entry_similarity(query_vector, num),
            k,
        )
        if not ranked:
            return Retrieval([], 0.0)
        cross = cross and self.cross_calibrator is not None
        if self.second_view is not None and not cross:
            second = self.second_view(raw_vector)
            hits = dict(self.kb.dense_search(second, max(k, 20)))
            top = ranked[0].entry.num
            if top not in hits:
                hits[top] = self.kb.entry_similarity(second, top)
            feats.update(second_opinion(hits, top))
        calibrator = self.cross_calibrator if cross else self.calibrator
        assert calibrator is not None
        return Retrieval(ranked, calibrator(feats), feats, cross_lingual=cross, lexical_hits=len(bm25))


__all__: list[Any] = ["Calibrator", "Candidate", "HybridRetriever", "Retrieval", "fuse"]
