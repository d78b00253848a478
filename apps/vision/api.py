"""The image recognition API: classify, detect, train your own classifier, find similar images.

Every model runs in the shared core, reached through handles: ImageNet
classification and the 1280-d embeddings come from the ``efficientnet-lite0``
backbone, detection from the ``detection`` role, training from the
``classifier-training`` role (``trainer.py`` is the app's side of it), and
classifiers trained here are served by the core as ``vision:<name>``
(``manager.add_local_model``), batched like any other model. The app itself
holds no model weights.

Example::

    from apps.vision import ImageRecognizer
    rec = ImageRecognizer()
    rec.classify("cat.jpg", top_k=5)            # [Prediction(label='tabby', score=0.41), ...]
    seen = rec.explain("cat.jpg")               # where it looked: seen.heatmap, seen.overlay (PIL)
    rec.detect("street.jpg", threshold=0.25)    # [Detection(label='car', score=0.8, box=(...)), ...]
    report = rec.train_classifier("products.zip", epochs=10)
    rec.classify("new.jpg", model=report.model_id)
    rec.index_images(["a.jpg", "b.jpg"]); rec.similar("query.jpg", k=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core import ModelHandle, ModelManager, get_manager
from core.errors import InvalidInputError
from core.images import to_rgb
from shared_models.types.vision import (
    BACKBONE,
    BACKBONE_RESIZE,
    CLASSIFICATION_ROLE,
    DETECTION_ROLE,
    FEATURE_DIM,
    ClassificationResult,
    ClassifyRequest,
    Detection,
    DetectRequest,
    Explanation,
    Prediction,
)

from . import storage
from .figures import heatmap_overlay
from .images import as_array
from .search import SimilarImage, SimilarityIndex
from .trainer import FEATURE_CHUNK, ClassifierTrainer, Progress, TrainingReport, no_progress

__all__ = ["BatchItem", "ExplainedImage", "ImageRecognizer", "TrainingReport"]

IMAGENET_CHOICE = "imagenet"  # ``model=None`` or this: the classification role from settings
MAX_TOP_K = 1000


@dataclass
class BatchItem:
    """One image of a batch call: its result, or the error that image got."""

    result: Any = None
    error: str | None = None


@dataclass
class ExplainedImage:
    """A classification with where the model looked for one label (``ImageRecognizer.explain``).

    ``heatmap``: Grad-CAM, a small (h, w) float32 array in [0, 1] over ``box`` of the
    image (fractions: left, top, right, bottom; the model's centre crop). ``overlay``:
    the image with the heatmap blended in (red: looked most; dimmed: never seen).
    """

    predictions: list[Prediction]
    label: str
    score: float
    heatmap: np.ndarray
    box: tuple[float, float, float, float]
    overlay: Image.Image


class ImageRecognizer:
    """Classification, detection, trainable classifiers and similar-image search.

    ``manager`` defaults to the process-wide model manager; ``data_dir`` (default
    ``<settings.data_dir>/vision``) holds trained models and the search collection.
    """

    def __init__(self, manager: ModelManager | None = None, data_dir: Path | None = None) -> None:
        self.manager = manager or get_manager()
        self.data_dir = Path(data_dir) if data_dir else self.manager.settings.data_dir / "vision"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.models = storage.ModelStore(self.data_dir / "models")
        self.uploads_dir = self.data_dir / "uploads"
        self.trainer = ClassifierTrainer(self.manager, self.models, self.uploads_dir, self.embed)
        self._index: SimilarityIndex | None = None
        for saved in self.models.list():
            self._serve(saved)

    @property
    def max_pixels(self) -> int:
        return self.manager.settings.limits.max_image_pixels

    # ------------------------------------------------------------------ classification

    def classifier_choices(self) -> list[tuple[str, str]]:
        """(display name, model) pairs: the ImageNet model, then trained models, newest first."""
        imagenet = self.manager.handle(CLASSIFICATION_ROLE).name
        choices = [(f"ImageNet ({imagenet})", IMAGENET_CHOICE)]
        for saved in self.models.list():
            acc = saved.metrics.get("accuracy")
            shown = f"{saved.name} ({saved.method}, {len(saved.labels)} classes"
            shown += f", held-out {acc:.1%})" if isinstance(acc, float) else ")"
            choices.append((shown, saved.model_id))
        return choices

    def classify(self, image: Any, top_k: int = 5, model: str | None = None) -> list[Prediction]:
        """Top-``top_k`` labels of one image, best first, each with ``.label`` and ``.score``.

        ``model``: ``None`` / ``"imagenet"`` for the configured ImageNet classifier,
        a trained model (``"vision:<name>"`` or its name), or any classification
        source the core understands (``torchvision:<Weights>``, ``local:<folder>``).
        """
        item = self.classify_batch([image], top_k, model)[0]
        if item.error:
            raise InvalidInputError(item.error)
        return item.result

    def explain(
        self, image: Any, label: str | None = None, model: str | None = None, top_k: int = 5
    ) -> ExplainedImage:
        """Classify one image and show where the model looked: a Grad-CAM heatmap and overlay.

        ``label``: the class to explain (one of the model's labels); ``None`` explains the
        top prediction. ``model`` as in ``classify``: the ImageNet model or a classifier
        you trained. The predictions are the ones ``classify`` gives. It adds a forward and
        a backward pass: about 1.4-1.6x a plain ``classify`` on CPU (bench/RESULTS.md).
        """
        top_k = _check_top_k(top_k)
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise InvalidInputError(f"label must be one of the model's labels or None, got {label!r}.")
        handle = self._classifier(model)
        upright = to_rgb(image, self.max_pixels, BACKBONE_RESIZE)
        [result] = handle.call(
            [ClassifyRequest(as_array(upright), top_k=top_k, explain=True, explain_label=label)]
        )
        seen: Explanation = result.explanation
        return ExplainedImage(
            result.predictions, seen.label, seen.score, seen.heatmap, seen.box,
            heatmap_overlay(upright, seen.heatmap, seen.box),
        )  # fmt: skip

    def classify_batch(
        self, images: Sequence[Any], top_k: int = 5, model: str | None = None
    ) -> list[BatchItem]:
        """Classify several images in one call to the shared core (one forward pass per batch).

        Each image gets its own ``BatchItem``: a bad image carries an error message
        and does not fail the others.
        """
        top_k = _check_top_k(top_k)
        handle = self._classifier(model)
        items, good = self._decode_all(images, draft_size=BACKBONE_RESIZE)
        if good:
            results = handle.call([ClassifyRequest(as_array(img), top_k=top_k) for _, img in good])
            for (i, _), res in zip(good, results, strict=True):
                items[i].result = res.predictions
        return items

    def _classifier(self, model: str | None) -> ModelHandle:
        if model is None or model in ("", IMAGENET_CHOICE):
            return self.manager.handle(CLASSIFICATION_ROLE)
        if ":" in model and not model.startswith(storage.MODEL_PREFIX):
            # An external source (torchvision:..., local:...): the core loads it with the
            # classification role's loader and serves it under its own name.
            return self.manager.handle(model, role=CLASSIFICATION_ROLE)
        return self._serve(self.models.get(model))

    def _serve(self, saved: storage.SavedModel) -> ModelHandle:
        """The core's handle of a trained model, added to the core on first use.

        Added again only when its folder changed (another recognizer may share the
        manager; re-adding would drop a model that is loaded and in use).
        """
        source = f"local:{saved.folder}"
        served = {s.name: s.source for s in self.manager.model_specs(CLASSIFICATION_ROLE)}
        if served.get(saved.model_id) == source:
            return self.manager.handle(saved.model_id)
        return self.manager.add_local_model(
            saved.model_id, CLASSIFICATION_ROLE, saved.folder,
            description=saved.description, approx_mb=1 if saved.method == "cnn" else 25,
        )

    # ------------------------------------------------------------------ detection

    def detect(self, image: Any, threshold: float = 0.25, iou: float = 0.45) -> list[Detection]:
        """Objects in one image, best first: ``.label``, ``.score``, ``.box`` (x0, y0, x1, y1) pixels.

        Boxes are in the coordinates of the upright image (EXIF rotation applied).
        """
        item = self.detect_batch([image], threshold, iou)[0]
        if item.error:
            raise InvalidInputError(item.error)
        return item.result

    def detect_batch(
        self, images: Sequence[Any], threshold: float = 0.25, iou: float = 0.45
    ) -> list[BatchItem]:
        """Detect objects in several images with one call to the shared core."""
        _check_unit("threshold", threshold)
        _check_unit("iou", iou)
        items, good = self._decode_all(images, draft_size=None)
        if good:
            handle = self.manager.handle(DETECTION_ROLE)
            requests = [
                DetectRequest(as_array(img), threshold=float(threshold), iou=float(iou)) for _, img in good
            ]
            for (i, _), found in zip(good, handle.call(requests), strict=True):
                items[i].result = found
        return items

    def upright(self, image: Any) -> Image.Image:
        """The image as the models see it: RGB, EXIF rotation applied (for drawing boxes)."""
        return to_rgb(image, self.max_pixels)

    # ------------------------------------------------------------------ embeddings

    def embed(self, images: Sequence[Any], progress: Progress = no_progress) -> np.ndarray:
        """1280-d backbone embeddings (float32, not normalised), batched through the core.

        Every image must be valid; a bad one raises ``InvalidInputError`` naming it.
        """
        handle = self.manager.handle(BACKBONE)
        out = np.zeros((len(images), FEATURE_DIM), dtype=np.float32)
        for start in range(0, len(images), FEATURE_CHUNK):
            chunk = [as_array(to_rgb(img, self.max_pixels, BACKBONE_RESIZE))
                     for img in images[start : start + FEATURE_CHUNK]]
            results: list[ClassificationResult] = handle.call(
                [ClassifyRequest(img, top_k=1, features=True) for img in chunk]
            )
            for j, res in enumerate(results):
                out[start + j] = res.features
            done = min(start + FEATURE_CHUNK, len(images))
            progress(done / max(1, len(images)), f"embedding images {done}/{len(images)}")
        return out

    # ------------------------------------------------------------------ training

    def train_classifier(
        self,
        folder_or_zip: str | Path,
        epochs: int = 3,
        *,
        method: str = "auto",
        fine_tune_epochs: int = 0,
        name: str | None = None,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> TrainingReport:
        """Train a classifier, test it on a held-out split, save it and make it selectable.

        ``folder_or_zip``: a folder or zip of ``class_name/image.jpg``, or
        ``"fashion-mnist"`` (Debian's dataset-fashion-mnist). ``method``:

        - ``"head"``: a linear head on frozen EfficientNet-Lite0 features (photos);
          ``fine_tune_epochs > 0`` then fine-tunes the last blocks with it;
        - ``"cnn"``: a small CNN from scratch on 28 x 28 greyscale (Fashion-MNIST-like);
        - ``"auto"``: ``"cnn"`` for Fashion-MNIST, ``"head"`` otherwise.

        Held out: 20% of each class for folders, the official test split for
        Fashion-MNIST. ``limit`` caps the training images (class-balanced for
        Fashion-MNIST). Returns a ``TrainingReport``; the model is then served as
        ``report.model_id`` and listed by ``classifier_choices()``.
        """
        report = self.trainer.train(
            folder_or_zip, epochs, method=method, fine_tune_epochs=fine_tune_epochs,
            name=name, limit=limit, progress=progress,
        )  # fmt: skip
        self._serve(self.models.get(report.name))
        return report

    def saved_models(self) -> list[storage.SavedModel]:
        """Trained classifiers on disk, newest first."""
        return self.models.list()

    # ------------------------------------------------------------------ search

    @property
    def collection(self) -> SimilarityIndex:
        if self._index is None:
            self._index = SimilarityIndex(self.data_dir / "search", FEATURE_DIM)
        return self._index

    def index_images(
        self,
        images: Sequence[Any],
        names: Sequence[str] | None = None,
        progress: Progress = no_progress,
    ) -> tuple[int, list[str]]:
        """Add images to the search collection; returns (collection size, skipped messages)."""
        if not len(images):
            raise InvalidInputError("No images to add.")
        if names is None:
            names = [Path(x).name if isinstance(x, (str, Path)) else f"image {i + 1}" for i, x in enumerate(images)]
        if len(names) != len(images):
            raise InvalidInputError("names must have one entry per image.")
        items, good = self._decode_all(images, draft_size=None)
        skipped = [f"{names[i]}: {it.error}" for i, it in enumerate(items) if it.error]
        if not good:
            raise InvalidInputError("None of the images could be read: " + "; ".join(skipped[:5]))
        decoded = [img for _, img in good]
        vectors = self.embed(decoded, progress)
        size = self.collection.add(decoded, [names[i] for i, _ in good], vectors)
        return size, skipped

    def similar(self, image: Any, k: int = 5) -> list[SimilarImage]:
        """The ``k`` images of the collection most similar to ``image`` (cosine of embeddings)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}.")
        vector = self.embed([to_rgb(image, self.max_pixels, BACKBONE_RESIZE)])[0]
        return self.collection.search(vector, k)

    def clear_collection(self) -> None:
        """Empty the search collection."""
        self.collection.clear()

    # ------------------------------------------------------------------ helpers

    def _decode_all(
        self, images: Sequence[Any], draft_size: int | None
    ) -> tuple[list[BatchItem], list[tuple[int, Image.Image]]]:
        """Decode every image up front: the core fails a whole call on one bad image."""
        if isinstance(images, (str, bytes, Path, Image.Image, np.ndarray)):
            raise InvalidInputError("Pass a list of images (use classify/detect for one).")
        limit = self.manager.settings.limits.max_batch_items
        if len(images) > limit:
            raise InvalidInputError(f"{len(images)} images in one batch; the limit is {limit}.")
        items = [BatchItem() for _ in images]
        good = []
        for i, image in enumerate(images):
            try:
                good.append((i, to_rgb(image, self.max_pixels, draft_size)))
            except InvalidInputError as exc:
                items[i].error = str(exc)
        return items, good


def _check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be an integer in [1, {MAX_TOP_K}], got {top_k!r}.")
    return top_k


def _check_unit(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidInputError(f"{name} must be a number in [0, 1], got {value!r}.")

