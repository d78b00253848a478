"""Classification scores shared by the apps (intents, image classifiers): one macro-F1.

Macro-F1 is the unweighted mean of per-class F1, so a rare class counts as much as a
common one. Which classes enter the mean matters when a test set does not cover every
class the model knows:

- a class that is neither in the truth nor in the predictions is left out: there is
  nothing to score, and counting it as 0 would punish a model for a class the test set
  never asked about;
- a class present in either is counted: one the model predicts but that never occurs
  has precision 0 and so F1 0, which is exactly the mistake the score should show.

This is scikit-learn's ``f1_score(average="macro")`` with ``labels=None`` (the union of
true and predicted labels); per-class F1 is ``2 TP / (predicted + actual)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def per_class_f1(confusion: np.ndarray | Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """F1 of each class from a confusion matrix (rows: true, columns: predicted),
    and the mask of classes that count (present in the truth or the predictions)."""
    m = np.asarray(confusion, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"A confusion matrix is square; got shape {m.shape}.")
    tp = np.diag(m)
    denom = m.sum(axis=0) + m.sum(axis=1)  # predicted + actual
    counted = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros(len(m)), where=counted)
    return f1, counted


def macro_f1(confusion: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Mean F1 over the classes present in the truth or the predictions (0.0 if none)."""
    f1, counted = per_class_f1(confusion)
    return float(f1[counted].mean()) if counted.any() else 0.0
