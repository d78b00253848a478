"""Compare models on one split, the way the page and the benchmark do it.

Each model is trained on the training part, tuned (EASE's lambda) on the
validation part, and scored on the test part with training and validation items
masked: the same numbers for every model, on the same split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.errors import InvalidInputError

from .api import Recommender
from .evaluation import leave_last_out, random_split

PROTOCOLS = {
    "random": "Random 80/10/10 per user (RecBole)",
    "temporal": "Temporal leave-last-out",
}
# Grid for EASE's L2 weight, chosen on the validation split (never on test).
EASE_L2_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 800.0)
# Grid for BPR's L2 weight (per sample), also chosen on the validation split.
BPR_REG_GRID = (1e-3, 1e-2, 3e-2)

Progress = Callable[[float, str], None]


@dataclass
class ModelResult:
    """One model's figures on the test split."""

    model: str
    metrics: dict[str, float]
    train_seconds: float
    losses: list[float] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    recommender: Recommender | None = None


def split(interactions: pd.DataFrame, protocol: str, seed: int = 2020):
    """(train, valid, test) for a protocol name: "random" or "temporal"."""
    if protocol == "random":
        return random_split(interactions, seed=seed)
    if protocol == "temporal":
        return leave_last_out(interactions)
    raise InvalidInputError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")


def tune_ease(train: pd.DataFrame, valid: pd.DataFrame, items, k: int, **kwargs) -> tuple[float, dict]:
    """The EASE L2 weight with the best validation NDCG@k, and the score of each."""
    scores = {}
    for l2 in EASE_L2_GRID:
        rec = Recommender("ease", l2=l2, **kwargs).fit(train, items)
        scores[l2] = rec.evaluate(valid, k)[f"ndcg@{k}"]
    return max(scores, key=scores.get), scores


def tune_bpr(train: pd.DataFrame, valid: pd.DataFrame, items, k: int, **kwargs) -> tuple[float, dict]:
    """The BPR L2 weight with the best validation NDCG@k, and the score of each."""
    scores = {}
    for reg in BPR_REG_GRID:
        rec = Recommender("bpr", reg=reg, **kwargs).fit(train, items)
        scores[reg] = rec.evaluate(valid, k)[f"ndcg@{k}"]
    return max(scores, key=scores.get), scores


def compare_models(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    models: Sequence[str],
    *,
    protocol: str = "random",
    k: int = 10,
    params: dict[str, dict] | None = None,
    tune: bool = True,
    progress: Progress | None = None,
    **kwargs,
) -> list[ModelResult]:
    """Train each model on the same split and score it on the same test set."""
    if not models:
        raise InvalidInputError("Choose at least one model to train.")
    train, valid, test = split(interactions, protocol)
    if test.empty:
        raise InvalidInputError("The split left no test interactions: users need at least 3 interactions.")
    params = dict(params or {})
    results = []
    for n, name in enumerate(models):
        def step(frac: float, msg: str, n=n, name=name) -> None:
            if progress:
                progress((n + frac) / len(models), f"{name}: {msg}")

        p = dict(params.get(name, {}))
        if name == "ease" and tune and "l2" not in p and not valid.empty:
            step(0.0, "choosing lambda on the validation split")
            p["l2"], _ = tune_ease(train, valid, items, k, **kwargs)
        if name == "hybrid" and items is None:
            raise InvalidInputError("The hybrid model needs item metadata; upload an items file.")
        rec = Recommender(name, **p, **kwargs).fit(train, items, progress=step)
        metrics = rec.evaluate(test, k, exclude=valid if not valid.empty else None)
        results.append(ModelResult(name, metrics, rec.train_seconds, rec.losses, p, rec))
    if progress:
        progress(1.0, "done")
    return results


def results_table(results: Sequence[ModelResult], k: int) -> pd.DataFrame:
    """One row per model, metrics as columns, best NDCG first."""
    rows = []
    for r in results:
        row = {"model": r.model}
        for name in ("ndcg", "recall", "mrr", "hit", "coverage"):
            row[f"{name}@{k}"] = round(r.metrics[f"{name}@{k}"], 4)
        row["train s"] = round(r.train_seconds, 2)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False).reset_index(drop=True)
