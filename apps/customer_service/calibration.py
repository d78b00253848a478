"""Per-knowledge-base confidence calibration, fitted on the knowledge base itself.

The confidence is P(the top entry answers the question), a logistic model over the
features of ``retrieval.features_of``. Cosines differ between embedding models and
between knowledge bases (a shop with twenty similar entries has small margins), so
every knowledge base fits its own coefficients, on import and after each edit:

* positives: each entry's question and alternatives, held out one at a time (the
  entry keeps its other phrasings and its answer; BM25 forgets the held-out one);
  the sample counts as right when that entry comes out on top;
* negatives: the same phrasings with their whole entry removed (a question the
  knowledge base cannot answer, worded like the ones it can), a bundled list of
  general off-topic questions, and shuffled words of the knowledge base's questions.

The fit is an L2-regularised logistic regression with both classes weighted
equally. Its figures on these samples are the expected answer and error rates the
Knowledge base tab shows.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .knowledge import KnowledgeBase, StoredEntry, lexical_text
from .retrieval import CROSS_FEATURES, FEATURES, Calibrator, View, cjk_share, fuse

OFF_TOPIC_FILE = Path(__file__).parent / "calibration_off_topic.txt"
MAX_ENTRIES = 150  # entries sampled for held-out questions: seconds, not minutes, at import
MAX_PHRASINGS = 3  # per entry
SHUFFLED = 20
L2 = 0.01  # per sample, on standardised features
META_KEY = "calibration"
# How much each kind of sample counts in the fit. Unanswerable questions (their entry
# removed) are harder than what customers ask: a neighbouring entry often half-answers
# them, so at full weight they push the threshold above many right answers.
# Both weights below and POSITIVE_PRIOR were chosen on the fernleaf and xiaoman sets of
# bench/own_data (never the held-out quayside): the most right answers with at most 5% wrong.
KIND_WEIGHTS = {"held_out": 1.0, "unanswerable": 0.25, "off_topic": 1.0, "shuffled": 1.0}
# Added to the fitted bias (log odds): the classes are weighted equally in the fit, but a
# customer's question is more often answerable than not, and held-out phrasings (the
# positives) sit closer to their entry than customers' own wording does.
POSITIVE_PRIOR = 0.25

Embed = Callable[[list[Any]], np.ndarray]


@dataclass
class Calibration:
    """A knowledge base's fitted confidence map and what it is expected to do."""

    weights: list[float]
    bias: float
    cross_weights: list[float]  # over CROSS_FEATURES, for questions in another language
    cross_bias: float
    cross_dense_shift: float  # same-language minus cross-language cosine of off-topic text
    positives: int  # held-out phrasings
    negatives: int  # unanswerable, off-topic and shuffled questions
    answer_rate: float  # held-out phrasings answered with their own entry
    error_rate: float  # held-out phrasings answered with another entry
    off_topic_answered: float  # negatives answered anyway
    threshold: float
    kb_revision: int
    embedding_model: str
    seconds: float
    fitted_at: float

    def calibrator(self) -> Calibrator:
        return Calibrator(self.weights, self.bias)

    def cross_calibrator(self) -> Calibrator:
        return Calibrator(
            self.cross_weights, self.cross_bias, CROSS_FEATURES, self.cross_dense_shift
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> Calibration | None:
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):
            return None  # written by another version: refit


@dataclass
class _Sample:
    features: dict[str, float]
    label: int  # 1: the top entry is right
    kind: str  # "held_out", "unanswerable", "off_topic", "shuffled"
    text: str = ""


def off_topic_questions() -> list[str]:
    lines = OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines()
    return [x.strip() for x in lines if x.strip() and not x.startswith("#")]


def calibrate(
    kb: KnowledgeBase,
    embed: Embed,
    threshold: float = 0.5,
    seed: int = 0,
    view: View | None = None,
) -> Calibration:
    """Fit the confidence map of ``kb``; ``embed`` is the knowledge base's own embedder and
    ``view`` how a question's vector is weighed (``embedders.Embedders.view``): the
    same-language map is fitted on same-language views, the cross-language map on
    cross-language ones (with two models, that is e5 alone)."""
    started = time.perf_counter()
    # The revision this fit sees, read first: an edit made while it runs (edits refit in the
    # background) must leave the stored fit marked stale, not current.
    revision = kb.revision()
    view = view or _same
    rng = random.Random(seed)
    general = off_topic_questions()
    texts = general + _shuffled(kb.all(), rng)
    vectors = embed(texts) if kb.all() else np.zeros((0, kb.dim), dtype=np.float32)
    samples = _samples(kb, texts, vectors, len(general), random.Random(seed), lambda v: view(v, False))
    X, y, kind_weight = _arrays(samples, FEATURES)
    weights, bias = fit_logistic(X, y, weight=kind_weight)
    # A question in another language than the knowledge base shares no words with it:
    # its coverage and agreement say nothing, so those questions get a dense-only map.
    cross_probe = view(np.ones(kb.dim, dtype=np.float32), True)
    if np.array_equal(cross_probe, view(np.ones(kb.dim, dtype=np.float32), False)):
        cross_samples = samples
    else:
        cross_samples = _samples(kb, texts, vectors, len(general), random.Random(seed), lambda v: view(v, True))
    Xc, yc, wc = _arrays(cross_samples, CROSS_FEATURES)
    cross_weights, cross_bias = fit_logistic(Xc, yc, weight=wc)
    bias += POSITIVE_PRIOR
    cross_bias += POSITIVE_PRIOR
    p = 1.0 / (1.0 + np.exp(-(X @ weights + bias)))
    answered = p >= threshold
    held = np.array([s.kind == "held_out" for s in samples])
    neg = ~held
    return Calibration(
        weights=[round(float(w), 5) for w in weights],
        bias=round(float(bias), 5),
        cross_weights=[round(float(w), 5) for w in cross_weights],
        cross_bias=round(float(cross_bias), 5),
        cross_dense_shift=round(_cross_shift(kb, cross_samples), 5),
        positives=int(held.sum()),
        negatives=int(neg.sum()),
        answer_rate=_rate(answered & held & (y == 1), held),
        error_rate=_rate(answered & held & (y == 0), held),
        off_topic_answered=_rate(answered & neg, neg),
        threshold=threshold,
        kb_revision=revision,
        embedding_model=kb.embedding_model,
        seconds=round(time.perf_counter() - started, 2),
        fitted_at=time.time(),
    )


def _same(vector: np.ndarray, cross_lingual: bool = False) -> np.ndarray:
    return vector


def _arrays(samples: list[_Sample], features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.array([[s.features[f] for f in features] for s in samples], dtype=np.float64)
    y = np.array([s.label for s in samples], dtype=np.float64)
    return X, y, np.array([KIND_WEIGHTS[s.kind] for s in samples])


def _cross_shift(kb: KnowledgeBase, samples: list[_Sample]) -> float:
    """How much lower a question in the other language scores against this knowledge base,
    measured on the bundled off-topic questions, which come in both languages: e5 puts
    a translation near its original, but not as near as same-language text."""
    kb_zh = cjk_share(" ".join(e.question for e in kb.all()[:200])) > 0.5
    same, other = [], []
    for s in samples:
        if s.kind == "off_topic":
            (same if (cjk_share(s.text) > 0.5) == kb_zh else other).append(s.features["dense"])
    if not same or not other:
        return 0.0
    return max(0.0, float(np.mean(same) - np.mean(other)))


def _rate(hits: np.ndarray, of: np.ndarray) -> float:
    return round(float(hits.sum() / of.sum()), 4) if of.any() else 0.0


def fit_logistic(
    X: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50, weight: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """``_fit`` with every weight kept >= 0: more similarity, coverage or agreement never
    lowers the confidence. A small knowledge base (a handful of held-out questions) can
    otherwise learn that covering the question's words is a bad sign. A feature whose
    weight comes out negative is dropped and the rest refitted."""
    active = list(range(X.shape[1]))
    while True:
        w, b = _fit(X[:, active], y, l2, steps, weight)
        if (w >= 0).all() or len(active) == 1:
            full = np.zeros(X.shape[1])
            full[active] = np.maximum(w, 0.0)
            return full, b
        active = [a for a, wi in zip(active, w, strict=True) if wi >= 0] or active[:1]


def _fit(
    X: np.ndarray, y: np.ndarray, l2: float, steps: int, weight: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """Newton's method on the class-balanced, L2-penalised log loss.

    Features are standardised for the fit (cosines vary by hundredths, coverage by
    tenths: one penalty must mean the same for each), then mapped back, so the
    returned weights apply to raw features.
    """
    n, d = X.shape
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd < 1e-6, 1.0, sd)
    Z = (X - mu) / sd
    weight = np.ones(n) if weight is None else weight
    pos = max(1e-9, (weight * y).sum())
    negs = max(1e-9, (weight * (1 - y)).sum())
    sample_w = weight * np.where(y == 1, n / (2 * pos), n / (2 * negs))
    A = np.hstack([Z, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2 * n)
    penalty[-1] = 0.0  # the bias is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ theta, -60, 60)))
        grad = A.T @ (sample_w * (p - y)) + penalty * theta
        hess = (A * (sample_w * p * (1 - p))[:, None]).T @ A + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = theta[:-1] / sd
    return weights, float(theta[-1] - weights @ mu)


def _samples(
    kb: KnowledgeBase,
    texts: list[str],
    text_vectors: np.ndarray,
    n_general: int,
    rng: random.Random,
    view: Callable[[np.ndarray], np.ndarray],
) -> list[_Sample]:
    """Held-out, unanswerable and off-topic samples; ``texts`` are the off-topic questions
    (the first ``n_general`` bundled, the rest shuffled words) with their vectors."""
    entries = kb.all()
    if not entries:
        return []
    chosen = entries if len(entries) <= MAX_ENTRIES else rng.sample(entries, MAX_ENTRIES)
    vectors = {e.num: kb.entry_vectors(e.num) for e in entries}
    bm25 = copy.deepcopy(kb.bm25)  # held-out edits must not touch the live index
    by_num = kb.entries
    # One matrix of every stored vector, with the entry each belongs to.
    owners = np.concatenate([np.full(len(v), num) for num, v in vectors.items()])
    matrix = np.concatenate(list(vectors.values()))

    def dense_hits(query: np.ndarray, drop: int | None, extra: np.ndarray | None) -> list[tuple[int, float]]:
        scores = matrix @ query
        best: dict[int, float] = {}
        for num, s in zip(owners.tolist(), scores.tolist(), strict=True):
            if num == drop:
                continue
            if s > best.get(num, -2.0):
                best[num] = s
        if extra is not None and drop is not None:
            best[drop] = float((extra @ query).max())
        return sorted(best.items(), key=lambda kv: -kv[1])[:20]

    def run(
        text: str, hits: list[tuple[int, float]], view: dict[int, StoredEntry]
    ) -> tuple[int | None, dict[str, float] | None]:
        scores, coverage = bm25.scores(text)
        sims = dict(hits)
        ranked, feats = fuse(text, view, hits, scores, coverage, lambda n: sims.get(n, 0.0), 5)
        return (ranked[0].entry.num, feats) if ranked else (None, None)

    samples: list[_Sample] = []
    for entry in chosen:
        own = vectors[entry.num]
        without = {n: e for n, e in by_num.items() if n != entry.num}
        for j, text in enumerate(entry.phrasings[:MAX_PHRASINGS]):
            query = view(own[j])
            # Held out: the entry keeps its other phrasings and its question-plus-answer
            # passage. The passage still holds the question's words, a little as a
            # customer's paraphrase shares some of them; the bare answer alone made the
            # right entry look weaker than any real question ever sees it.
            rest = np.delete(own, j, axis=0)
            bm25.add(entry.num, _lexical_without(entry, j))
            top, feats = run(text, dense_hits(query, entry.num, rest), by_num)
            if feats is not None:
                samples.append(_Sample(feats, int(top == entry.num), "held_out"))
            # Unanswerable: the same question with its whole entry gone.
            bm25.remove(entry.num)
            _, feats = run(text, dense_hits(query, entry.num, None), without)
            if feats is not None:
                samples.append(_Sample(feats, 0, "unanswerable"))
            bm25.add(entry.num, lexical_text(entry))
    for i, (text, vec) in enumerate(zip(texts, text_vectors, strict=True)):
        _, feats = run(text, dense_hits(view(vec), None, None), by_num)
        if feats is not None:
            kind = "off_topic" if i < n_general else "shuffled"
            samples.append(_Sample(feats, 0, kind, text))
    return samples


def _lexical_without(entry: StoredEntry, j: int) -> str:
    phrasings = [p for i, p in enumerate(entry.phrasings) if i != j]
    held = StoredEntry(entry.id, phrasings[0] if phrasings else "", entry.answer, entry.category, phrasings[1:])
    return lexical_text(held)


def _shuffled(entries: list[StoredEntry], rng: random.Random) -> list[str]:
    """Word salad from the knowledge base's own questions: on-topic words, no question."""
    words: list[str] = []
    for e in entries:
        for p in e.phrasings:
            words += p.split() if " " in p.strip() else list(p)
    if len(words) < 4:
        return []
    out = []
    for _ in range(SHUFFLED):
        picked = rng.sample(words, min(len(words), rng.randint(3, 7)))
        joiner = "" if all(len(w) == 1 for w in picked) else " "
        out.append(joiner.join(picked))
    return out
