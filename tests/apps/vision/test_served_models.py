"""Trained classifiers are served by the core (add_local_model) and trained by its trainer role."""

from __future__ import annotations

import numpy as np
import pytest

from apps.vision import ImageRecognizer
from apps.vision.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from core import ModelManager, Settings
from core.errors import InvalidInputError, UnknownModelError
from shared_models.types.events import ProgressEvent
from shared_models.types.vision import (
    CLASSIFICATION_ROLE,
    TRAINER,
    ClassifyRequest,
    TrainClassifierRequest,
    TrainClassifierResult,
)

from .conftest import needs_fashion_mnist


def _row(manager, name: str) -> dict:
    return next(m for m in manager.report()["models"] if m["model"] == name)


@needs_fashion_mnist
def test_trained_classifier_is_served_like_any_model(manager, tmp_path):
    rec = ImageRecognizer(manager, data_dir=tmp_path / "vision")
    report = rec.train_classifier("fashion-mnist", epochs=2, limit=200, name="served")
    name, folder = report.model_id, rec.data_dir / "models" / "served"
    spec = next(s for s in manager.model_specs(CLASSIFICATION_ROLE) if s.name == name)
    assert spec.source == f"local:{folder}" and "cnn classifier" in spec.description
    assert not manager.is_loaded(name)  # added, not loaded: the first call loads it

    test = load_fashion_mnist("test", 50)
    handle = manager.handle(name)
    results = handle.call([ClassifyRequest(img, top_k=3) for img in test.images[:20]])
    assert all(len(r.predictions) == 3 for r in results)
    assert {p.label for r in results for p in r.predictions} <= set(FASHION_MNIST_CLASSES)
    row = _row(manager, name)
    assert row["loaded"] and row["role"] == CLASSIFICATION_ROLE and row["loads"] == 1
    assert row["source"] == f"local:{folder}"

    # Evicted like any model, and loaded again on the next call.
    assert manager.unload(name) and not manager.is_loaded(name)
    again = handle.call([ClassifyRequest(img, top_k=3) for img in test.images[:20]])
    assert [r.predictions[0].label for r in again] == [r.predictions[0].label for r in results]
    assert _row(manager, name)["loads"] == 2

    # Removed from the core: the files stay, and the recognizer serves it again on use.
    assert manager.remove_model(name)
    assert name not in manager.model_names()
    with pytest.raises(UnknownModelError):
        manager.handle(name)
    assert (folder / "model.safetensors").is_file()
    assert rec.classify(test.images[0], top_k=1, model="served")[0].label in FASHION_MNIST_CLASSES
    assert name in manager.model_names(CLASSIFICATION_ROLE)
    manager.remove_model(name)


@needs_fashion_mnist
def test_trainer_role_writes_what_add_local_model_serves(manager, settings, tmp_path):
    train, test = load_fashion_mnist("train", 300), load_fashion_mnist("test", 60)
    folder = tmp_path / "cnn"
    request = TrainClassifierRequest(
        "cnn", list(FASHION_MNIST_CLASSES), train.images, train.labels, test.images, test.labels,
        str(folder), epochs=2,
    )  # fmt: skip
    [result] = manager.handle(TRAINER).call([request])
    assert result.method == "cnn" and result.folder == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert result.curve.epoch == [1, 2] and result.test_predictions.shape == (60,)
    assert (result.test_predictions == test.labels).mean() > 0.3  # chance is 0.1

    # A manager with room for one small model: the second evicts the first (LRU).
    small = ModelManager(Settings(data_dir=tmp_path / "data", cache_dir=settings.cache_dir, memory_budget_mb=1))
    try:
        first = small.add_local_model("test:cnn-a", CLASSIFICATION_ROLE, folder, approx_mb=1)
        second = small.add_local_model("test:cnn-b", CLASSIFICATION_ROLE, folder, approx_mb=1)
        served = first.call([ClassifyRequest(img, top_k=1) for img in test.images])
        labels = np.array([FASHION_MNIST_CLASSES.index(r.predictions[0].label) for r in served])
        # The served model is the trained one: same held-out answers (up to float rounding).
        assert (labels == result.test_predictions).mean() >= 0.95
        assert small.loaded_models() == ["test:cnn-a"]
        second.call([ClassifyRequest(test.images[0])])
        assert small.loaded_models() == ["test:cnn-b"]
        assert any(e["event"] == "evicted" and e["model"] == "test:cnn-a" for e in small.events())
    finally:
        small.remove_model("test:cnn-a")
        small.remove_model("test:cnn-b")
        small.close()


def test_trainer_refuses_bad_requests_one_by_one(manager, tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    labels = np.array([0, 1, 0, 1])
    bad = [
        TrainClassifierRequest("svm", ["a", "b"], images, labels, images, labels, str(tmp_path)),
        TrainClassifierRequest("cnn", ["a"], images, labels * 0, images, labels * 0, str(tmp_path)),
        TrainClassifierRequest("cnn", ["a", "b"], images, labels + 1, images, labels, str(tmp_path)),
        TrainClassifierRequest("head", ["a", "b"], images, labels, images, labels, str(tmp_path)),
        TrainClassifierRequest("cnn", ["a", "b"], images, labels, images, labels, str(tmp_path), epochs=0),
    ]
    messages = ["method", "at least 2 classes", "class indices", "float32", "epochs"]
    out = manager.handle(TRAINER).call(bad, return_exceptions=True)
    for error, message in zip(out, messages, strict=True):
        assert isinstance(error, InvalidInputError) and message in str(error), (message, error)
    assert not list(tmp_path.iterdir())  # nothing was written


@needs_fashion_mnist
@pytest.mark.parametrize("n_train", [10, 20, 200])
def test_short_cnn_runs_train(manager, tmp_path, n_train):
    """One epoch of a few batches (2, 3 and 4 optimiser steps) trains: the schedule fits."""
    train, test = load_fashion_mnist("train", n_train), load_fashion_mnist("test", 20)
    request = TrainClassifierRequest(
        "cnn", list(FASHION_MNIST_CLASSES), train.images, train.labels, test.images, test.labels,
        str(tmp_path / "short"), epochs=1,
    )  # fmt: skip
    [result] = manager.handle(TRAINER).call([request])
    assert result.curve.epoch == [1] and np.isfinite(result.curve.train_loss[0])


@needs_fashion_mnist
def test_training_streams_progress_then_the_result(manager, tmp_path):
    """What the page's progress bar shows comes through the handle as events."""
    train, test = load_fashion_mnist("train", 200), load_fashion_mnist("test", 20)
    request = TrainClassifierRequest(
        "cnn", list(FASHION_MNIST_CLASSES), train.images, train.labels, test.images, test.labels,
        str(tmp_path / "streamed"), epochs=2,
    )  # fmt: skip
    *events, result = list(manager.handle(TRAINER).stream(request))
    assert events and all(isinstance(e, ProgressEvent) for e in events)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[0] >= 0.0 and fractions[-1] <= 1.0
    assert any("epoch" in e.message.lower() for e in events), [e.message for e in events]
    assert isinstance(result, TrainClassifierResult) and result.curve.epoch == [1, 2]
