"""The one macro-F1 of the suite, by hand, and the two apps that use it agree."""

from __future__ import annotations

import numpy as np
import pytest

from apps.metrics import macro_f1, per_class_f1


def test_macro_f1_counts_classes_in_truth_or_predictions_only():
    # rows true, columns predicted; classes a, b, c, d
    confusion = [
        [2, 1, 0, 0],  # a: 2 right, 1 called b
        [0, 1, 0, 0],  # b: 1 right
        [0, 0, 0, 0],  # c: never true, never predicted -> left out
        [0, 0, 0, 0],  # d: the same
    ]
    f1, counted = per_class_f1(confusion)
    assert counted.tolist() == [True, True, False, False]
    assert f1[0] == pytest.approx(2 * 2 / (3 + 2)) and f1[1] == pytest.approx(2 * 1 / (1 + 2))
    assert macro_f1(confusion) == pytest.approx((0.8 + 2 / 3) / 2)


def test_a_class_predicted_but_never_true_counts_as_zero():
    # a is always right; one b is called c, and c never occurs in the truth.
    confusion = [[3, 0, 0], [0, 1, 1], [0, 0, 0]]
    f1, counted = per_class_f1(confusion)
    assert counted.tolist() == [True, True, True] and f1[2] == 0.0
    assert macro_f1(confusion) == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)


def test_empty_and_malformed_matrices():
    assert macro_f1(np.zeros((3, 3), dtype=int)) == 0.0
    with pytest.raises(ValueError, match="square"):
        macro_f1([[1, 2, 3]])


def test_both_apps_use_it():
    from apps.customer_service.intents import classification_metrics
    from apps.vision.evaluation import held_out_metrics

    labels = ["a", "b", "c"]
    truth, pred = ["a", "a", "b", "b"], ["a", "c", "b", "b"]
    intents = classification_metrics(truth, pred, labels)
    images = held_out_metrics(
        np.array([labels.index(t) for t in truth]), np.array([labels.index(p) for p in pred]), labels
    )
    expected = macro_f1(intents["confusion"])
    assert intents["macro_f1"] == pytest.approx(expected) == images.macro_f1
    assert set(intents["per_intent_f1"]) == {"a", "b", "c"}  # c was predicted, so it counts
