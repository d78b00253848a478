"""Confidence calibration: one map learned across companies, on each knowledge base's scale.

The confidence is P(the top entry answers the question), a logistic model over the
features of ``retrieval.features_of``. A cosine means different things in different
knowledge bases and models: MiniLM puts unrelated English near 0.2, e5 puts unrelated
Chinese near 0.85. So, on import and after each edit, every knowledge base measures
its own scale: the mean and spread of the top cosine that the bundled general
off-topic questions reach against it, in its own language and in the other one.
The cosine is then read as a z-score against that, and the margin in units of the
spread. An English knowledge base is embedded by two models (MiniLM ranks, e5 beside
it): it measures e5's scale too, and each term is the mean of the two models'
readings. On that scale one set of weights (``calibration_shared.json``) serves every
knowledge base. It was fitted by ``bench/cs_shared_calibration.py`` on customers'
labelled questions to seven knowledge bases (bench/own_data's six tuning companies,
three English and three Chinese, and the English demo), never on the held-out
quayside set.

Why not fit each knowledge base's own weights: with 20 entries a knowledge base has
about 20 phrasings to hold out as positives, and its own phrasings sit closer to
their entry than customers' words do. Those fits came out strict and far apart
(right answers 47-73% on three companies against 82-89% top-1). Tested across
knowledge bases (fitted on two, applied to the third), the shared weights answered
more of the right ones; bench/RESULTS.md has the figures.

Each knowledge base still runs its own samples through the map, for the expected
answer and error rates the Knowledge base tab shows:

* positives: each entry's question and alternatives, held out one at a time (the
  entry keeps its other phrasings and its answer; BM25 forgets the held-out one);
  the sample counts as right when that entry comes out on top;
* negatives: the same phrasings with their whole entry removed (a question the
  knowledge base cannot answer, worded like the ones it can), the bundled general
  off-topic questions, and shuffled words of the knowledge base's questions.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .knowledge import KnowledgeBase, StoredEntry, lexical_text
from .retrieval import (
    CHECKED_CROSS_FEATURES,
    CHECKED_FEATURES,
    CROSS_FEATURES,
    FEATURES,
    Calibrator,
    View,
    cjk_share,
    fuse,
    second_opinion,
)

OFF_TOPIC_FILE = Path(__file__).parent / "calibration_off_topic.txt"
SHARED_FILE = Path(__file__).parent / "calibration_shared.json"
MAX_ENTRIES = 150  # entries sampled for held-out questions: seconds, not minutes, at import
MAX_PHRASINGS = 3  # per entry
SHUFFLED = 20
L2 = 0.01  # per sample, on standardised features
META_KEY = "calibration"
MIN_SPREAD = 0.01  # a cosine spread below this is noise (a handful of off-topic questions)

Embed = Callable[[list[Any]], np.ndarray]


@dataclass(frozen=True)
class SharedMap:
    """The weights every knowledge base uses, over scaled features (``Calibrator.scaled``)."""

    weights: list[float]  # over FEATURES
    bias: float
    cross_weights: list[float]  # over CROSS_FEATURES, for questions in another language
    cross_bias: float
    # With the language model's check of the match (match_check): one more term, its margin
    # (CHECKED_FEATURES, CHECKED_CROSS_FEATURES). One map per generation model, by its name:
    # each model's likelihoods have their own scale (bench/RESULTS.md, tenth session).
    checked: dict[str, tuple[list[float], float]] = field(default_factory=dict)
    checked_cross: dict[str, tuple[list[float], float]] = field(default_factory=dict)


@functools.cache
def shared_map() -> SharedMap:
    """The bundled weights (``calibration_shared.json``, written by
    ``bench/cs_shared_calibration.py``; the checked maps by ``bench/cs_llm_check.py``)."""
    data = json.loads(SHARED_FILE.read_text(encoding="utf-8"))
    checked = data.get("checked", {})
    return SharedMap(
        data["weights"],
        data["bias"],
        data["cross_weights"],
        data["cross_bias"],
        {model: (m["weights"], m["bias"]) for model, m in checked.items()},
        {model: (m["cross_weights"], m["cross_bias"]) for model, m in checked.items()},
    )


@dataclass
class Calibration:
    """A knowledge base's confidence maps (its scale, the shared weights) and what they are
    expected to do on its own samples."""

    weights: list[float]
    bias: float
    cross_weights: list[float]  # over CROSS_FEATURES, for questions in another language
    cross_bias: float
    center: float  # mean top cosine of off-topic questions in the knowledge base's language
    spread: float  # their standard deviation
    second_center: float | None  # the same for the second model alone (two models), else None
    second_spread: float | None
    cross_center: float  # the same for off-topic questions in the other language
    cross_spread: float
    positives: int  # held-out phrasings
    negatives: int  # unanswerable, off-topic and shuffled questions
    answer_rate: float  # held-out phrasings answered with their own entry
    error_rate: float  # held-out phrasings answered with another entry
    off_topic_answered: float  # bundled general off-topic questions in its language, answered anyway
    unanswerable_answered: float  # its own phrasings with their entry taken out, answered anyway
    threshold: float
    kb_revision: int
    embedding_model: str
    seconds: float
    fitted_at: float

    def calibrator(self) -> Calibrator:
        second = None if self.second_center is None else (self.second_center, self.second_spread or 1.0)
        return Calibrator(self.weights, self.bias, FEATURES, self.center, self.spread, second)

    def cross_calibrator(self) -> Calibrator:
        return Calibrator(
            self.cross_weights, self.cross_bias, CROSS_FEATURES, self.cross_center, self.cross_spread
        )

    def checked_calibrators(self) -> dict[str, Calibrator]:
        """The maps for a match the language model has checked, by generation model."""
        second = None if self.second_center is None else (self.second_center, self.second_spread or 1.0)
        return {
            model: Calibrator(*m, CHECKED_FEATURES, self.center, self.spread, second)
            for model, m in shared_map().checked.items()
        }

    def checked_cross_calibrators(self) -> dict[str, Calibrator]:
        return {
            model: Calibrator(*m, CHECKED_CROSS_FEATURES, self.cross_center, self.cross_spread)
            for model, m in shared_map().checked_cross.items()
        }

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
    shared: SharedMap | None = None,
    second_view: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Calibration:
    """Measure ``kb``'s scale and its expected rates; ``embed`` is the knowledge base's own
    embedder and ``view`` how a question's vector is weighed (``embedders.Embedders.view``):
    the same-language scale is measured on same-language views, the cross-language one on
    cross-language views (with two models, that is e5 alone). ``second_view``, with two
    models, is the second one alone (``Embedders.second_view``): its scale is measured on
    the same-language off-topic questions. ``shared`` defaults to the bundled weights."""
    started = time.perf_counter()
    # The revision this fit sees, read first: an edit made while it runs (edits refit in the
    # background) must leave the stored fit marked stale, not current.
    revision = kb.revision()
    view = view or _same
    shared = shared or shared_map()
    rng = random.Random(seed)
    general = off_topic_questions()
    texts = general + _shuffled(kb.all(), rng)
    vectors = embed(texts) if kb.all() else np.zeros((0, kb.dim), dtype=np.float32)
    samples = _samples(
        kb, texts, vectors, len(general), random.Random(seed), lambda v: view(v, False), second_view
    )
    cross_probe = view(np.ones(kb.dim, dtype=np.float32), True)
    if np.array_equal(cross_probe, view(np.ones(kb.dim, dtype=np.float32), False)):
        cross_samples = samples
    else:  # only the off-topic questions set the cross-language scale
        cross_samples = _samples(
            kb, texts, vectors, len(general), random.Random(seed), lambda v: view(v, True), held_out=False
        )
    kb_zh = _is_chinese(kb)
    center, spread = _scale(samples, same_language=True, kb_zh=kb_zh)
    cross_center, cross_spread = _scale(cross_samples, same_language=False, kb_zh=kb_zh)
    second = None
    if second_view is not None:
        second = _scale(samples, same_language=True, kb_zh=kb_zh, key="best2")
    calibrator = Calibrator(shared.weights, shared.bias, FEATURES, center, spread, second)
    y = np.array([s.label for s in samples])
    answered = np.array([calibrator(s.features) >= threshold for s in samples], dtype=bool)
    held = np.array([s.kind == "held_out" for s in samples], dtype=bool)
    neg = ~held
    # Reported apart: a general question ("how tall is Everest") is easy to turn away, a
    # question worded like the entries but with no entry to answer it is not.
    off_topic = np.array(
        [s.kind == "off_topic" and _in_language(s.text, kb_zh) for s in samples], dtype=bool
    )
    unanswerable = np.array([s.kind == "unanswerable" for s in samples], dtype=bool)
    return Calibration(
        weights=list(shared.weights),
        bias=shared.bias,
        cross_weights=list(shared.cross_weights),
        cross_bias=shared.cross_bias,
        center=round(center, 5),
        spread=round(spread, 5),
        second_center=None if second is None else round(second[0], 5),
        second_spread=None if second is None else round(second[1], 5),
        cross_center=round(cross_center, 5),
        cross_spread=round(cross_spread, 5),
        positives=int(held.sum()),
        negatives=int(neg.sum()),
        answer_rate=_rate(answered & held & (y == 1), held),
        error_rate=_rate(answered & held & (y == 0), held),
        off_topic_answered=_rate(answered & off_topic, off_topic),
        unanswerable_answered=_rate(answered & unanswerable, unanswerable),
        threshold=threshold,
        kb_revision=revision,
        embedding_model=kb.embedding_model,
        seconds=round(time.perf_counter() - started, 2),
        fitted_at=time.time(),
    )


def _same(vector: np.ndarray, cross_lingual: bool = False) -> np.ndarray:
    return vector


def _is_chinese(kb: KnowledgeBase) -> bool:
    return cjk_share(" ".join(e.question for e in kb.all()[:200])) > 0.5


def _in_language(text: str, chinese: bool) -> bool:
    """Whether ``text`` is Chinese (``chinese``) or not (the off-topic list has both)."""
    return (cjk_share(text) > 0.5) == chinese


def _scale(
    samples: list[_Sample], same_language: bool, kb_zh: bool, key: str = "dense"
) -> tuple[float, float]:
    """Mean and standard deviation of the top cosine the bundled general off-topic questions
    reach: those in the knowledge base's language (``same_language``) or in the other one.
    They come in both languages; with too few of one kind, all of them are used. ``key``
    "best2" reads the second model's own top cosine instead."""
    off = [s for s in samples if s.kind == "off_topic" and key in s.features]
    mine = [s for s in off if _in_language(s.text, kb_zh) == same_language]
    cosines = np.array([s.features[key] for s in (mine if len(mine) >= 5 else off)])
    if len(cosines) < 2:
        return 0.0, 1.0
    return float(cosines.mean()), max(MIN_SPREAD, float(cosines.std()))


def _rate(hits: np.ndarray, of: np.ndarray) -> float:
    return round(float(hits.sum() / of.sum()), 4) if of.any() else 0.0


def fit_logistic(
    X: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50, weight: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """``_fit`` with every weight kept >= 0: more similarity, coverage or agreement never
    lowers the confidence. ``bench/cs_shared_calibration.py`` fits the shared weights with
    it; a few dozen labelled questions could otherwise learn that covering the question's
    words is a bad sign. A feature whose weight comes out negative is dropped and the rest
    refitted."""
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
    second_view: Callable[[np.ndarray], np.ndarray] | None = None,
    held_out: bool = True,
) -> list[_Sample]:
    """Held-out, unanswerable (unless ``held_out`` is False) and off-topic samples; ``texts``
    are the off-topic questions (the first ``n_general`` bundled, the rest shuffled words)
    with their vectors. With ``second_view``, each sample also carries the second model's
    opinion of its top entry, as ``HybridRetriever.search`` adds it."""
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

    def dense_hits(
        query: np.ndarray, drop: int | None, extra: np.ndarray | None, depth: int | None = 20
    ) -> list[tuple[int, float]]:
        scores = matrix @ query
        best: dict[int, float] = {}
        for num, s in zip(owners.tolist(), scores.tolist(), strict=True):
            if num == drop:
                continue
            if s > best.get(num, -2.0):
                best[num] = s
        if extra is not None and drop is not None:
            best[drop] = float((extra @ query).max())
        return sorted(best.items(), key=lambda kv: -kv[1])[:depth]

    def run(
        text: str,
        hits: list[tuple[int, float]],
        view: dict[int, StoredEntry],
        second: dict[int, float] | None = None,
    ) -> tuple[int | None, dict[str, float] | None]:
        scores, coverage = bm25.scores(text)
        sims = dict(hits)
        ranked, feats = fuse(text, view, hits, scores, coverage, lambda n: sims.get(n, 0.0), 5)
        if not ranked:
            return None, None
        if second is not None:
            feats.update(second_opinion(second, ranked[0].entry.num))
        return ranked[0].entry.num, feats

    def second_hits(vector: np.ndarray, drop: int | None, extra: np.ndarray | None) -> dict[int, float] | None:
        if second_view is None:
            return None
        return dict(dense_hits(second_view(vector), drop, extra, depth=None))

    samples: list[_Sample] = []
    for entry in chosen if held_out else ():
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
            top, feats = run(
                text, dense_hits(query, entry.num, rest), by_num, second_hits(own[j], entry.num, rest)
            )
            if feats is not None:
                samples.append(_Sample(feats, int(top == entry.num), "held_out"))
            # Unanswerable: the same question with its whole entry gone.
            bm25.remove(entry.num)
            _, feats = run(
                text, dense_hits(query, entry.num, None), without, second_hits(own[j], entry.num, None)
            )
            if feats is not None:
                samples.append(_Sample(feats, 0, "unanswerable"))
            bm25.add(entry.num, lexical_text(entry))
    for i, (text, vec) in enumerate(zip(texts, text_vectors, strict=True)):
        _, feats = run(text, dense_hits(view(vec), None, None), by_num, second_hits(vec, None, None))
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
