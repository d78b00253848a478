"""Held-out metrics: accuracy, macro-F1 and the confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from apps.metrics import macro_f1


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
    return HeldOutMetrics(
        accuracy=float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        # Every class counts the same; a class neither held out nor predicted is left out.
        macro_f1=macro_f1(confusion),
        confusion=confusion.tolist(),
        class_names=list(class_names),
        n_test=int(len(y_true)),
    )
