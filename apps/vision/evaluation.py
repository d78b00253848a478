"""Held-out metrics: accuracy, macro-F1 and the confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class HeldOutMetrics:
    """Scores on images the model never trained on.

    ``confusion[i][j]`` counts held-out images of class ``i`` predicted as ``j``.
    """

    accuracy: float
    macro_f1: float
    confusion: list[list[int]]
    class_names: list[str]
    n_test: int

    def per_class_recall(self) -> dict[str, float]:
        m = np.asarray(self.confusion, dtype=np.float64)
        support = m.sum(axis=1)
        recall = np.divide(np.diag(m), support, out=np.zeros_like(support), where=support > 0)
        return {name: float(r) for name, r in zip(self.class_names, recall, strict=True)}

    def to_dict(self) -> dict:
        return asdict(self)


def held_out_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]
) -> HeldOutMetrics:
    """Accuracy, macro-F1 (every class counts the same, whatever its size) and the confusion matrix."""
    n = len(class_names)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.bincount(y_true * n + y_pred, minlength=n * n).reshape(n, n)
    tp = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    # F1 = 2TP / (predicted + actual); a class never predicted nor present scores 0 (as sklearn's
    # zero_division=0), and every class counts the same in the macro average.
    denom = predicted + actual
    f1 = np.divide(2 * tp, denom, out=np.zeros(n), where=denom > 0)
    return HeldOutMetrics(
        accuracy=float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        macro_f1=float(f1.mean()) if n else 0.0,
        confusion=confusion.tolist(),
        class_names=list(class_names),
        n_test=int(len(y_true)),
    )
