"""Training your own classifier, the app's side: data in, a saved and scored model out.

The work that needs model weights runs in the shared core, through handles:
image features come from the backbone (``BACKBONE``, the model that also serves
ImageNet labels and search embeddings), and training from the
``classifier-training`` role (``TRAINER``), which writes the model folder. This
module does what the app owns: reading a folder, a zip or Fashion-MNIST, skipping
unreadable images, the held-out split, scoring the held-out predictions, and
saving the training record next to the model.

Progress: reading and embedding report after every chunk of images; the
training call reports when it starts and when it returns (it is one call to the
trainer, which answers once, at the end).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core import ModelManager
from core.errors import InvalidInputError
from core.images import to_rgb
from shared_models.types.vision import (
    BACKBONE_RESIZE,
    CNN_SIZE,
    FEATURE_DIM,
    TRAINER,
    TrainClassifierRequest,
    TrainClassifierResult,
    TrainingCurve,
)

from . import storage
from .datasets import (
    FASHION_MNIST,
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    open_training_source,
    stratified_split,
)
from .evaluation import HeldOutMetrics, held_out_metrics
from .images import serving_crop, small_grey

Progress = Callable[[float, str], None]
Embed = Callable[[Sequence[Any]], np.ndarray]  # images -> (N, FEATURE_DIM) float32 features

METHODS = ("auto", "head", "cnn")
FEATURE_CHUNK = 64  # images decoded (and embedded) per step: bounds memory, sets progress steps
MAX_FINETUNE_IMAGES = 3000  # new app limit: fine-tuning keeps every 224x224 crop in memory
MAX_EPOCHS = 200
HOLDOUT = 0.2
READ_SHARE = 0.6  # of the progress bar: reading and embedding a folder


def no_progress(_fraction: float, _message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass
class TrainingReport:
    """What ``train_classifier`` returns: the new model's name and how it scored."""

    name: str
    model_id: str
    method: str
    class_names: list[str]
    counts: dict[str, int]
    metrics: HeldOutMetrics
    curve: TrainingCurve
    train_seconds: float
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.metrics.accuracy

    @property
    def macro_f1(self) -> float:
        return self.metrics.macro_f1


class ClassifierTrainer:
    """Trains classifiers into a ``ModelStore``; the caller then serves them.

    ``embed`` turns decoded images into backbone features (``ImageRecognizer.embed``).
    """

    def __init__(
        self, manager: ModelManager, models: storage.ModelStore, uploads_dir: Path, embed: Embed
    ) -> None:
        self.manager = manager
        self.models = models
        self.uploads_dir = uploads_dir
        self.embed = embed

    def train(
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
        """Read, split, train, score and save (see ``ImageRecognizer.train_classifier``)."""
        progress = progress or no_progress
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
        for label, value, low in (("epochs", epochs, 1), ("fine_tune_epochs", fine_tune_epochs, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_EPOCHS:
                raise InvalidInputError(f"{label} must be an integer in [{low}, {MAX_EPOCHS}].")
        if limit is not None and (not isinstance(limit, int) or limit < 2):
            raise InvalidInputError("limit must be an integer of at least 2.")
        fmnist = str(folder_or_zip).strip().lower() == FASHION_MNIST
        if method == "auto":
            method = "cnn" if fmnist else "head"
        started = time.perf_counter()
        progress(0.0, "reading the training set")
        fine = method == "head" and fine_tune_epochs > 0
        if fmnist:
            data = self._fashion_mnist(limit, method, fine, progress)
        else:
            data = self._folder_set(folder_or_zip, limit, method, fine, progress)
        classes = data.class_names
        what = "a small CNN" if method == "cnn" else "a head on the backbone's features"
        extra = f", then {fine_tune_epochs} of fine-tuning" if fine else ""
        progress_start = 0.05 if fmnist and method == "cnn" else READ_SHARE
        progress(
            progress_start,
            f"training {what} on {len(data.y_train):,} images: {epochs} epochs{extra}",
        )
        with self.models.staging() as folder:
            request = TrainClassifierRequest(
                method="cnn" if method == "cnn" else "head",
                class_names=classes,
                train_inputs=data.train_inputs,
                train_labels=data.y_train,
                test_inputs=data.test_inputs,
                test_labels=data.y_test,
                folder=str(folder),
                epochs=epochs,
                fine_tune_epochs=fine_tune_epochs if fine else 0,
                train_crops=data.train_crops,
                test_crops=data.test_crops,
            )
            result = self._run_training(request, _span(progress, progress_start, 0.95))
            metrics = held_out_metrics(data.y_test, result.test_predictions, classes)
            seconds = time.perf_counter() - started
            progress(0.95, f"trained: held-out accuracy {metrics.accuracy:.1%}")
            progress(0.97, "saving the model")
            record = storage.SavedModel(
                name=name or ("fashion-mnist-" + result.method if fmnist else _default_name(folder_or_zip)),
                folder=Path(),
                method=result.method,
                labels=classes,
                metrics=metrics.to_dict(),
                curve=result.curve.to_dict(),
                train_seconds=round(seconds, 1),
                source=FASHION_MNIST if fmnist else Path(folder_or_zip).name,
                warnings=data.warnings,
            )
            saved = self.models.commit(folder, record)
        progress(1.0, f"saved as {saved.name}")
        return TrainingReport(
            name=saved.name,
            model_id=saved.model_id,
            method=result.method,
            class_names=classes,
            counts=data.counts,
            metrics=metrics,
            curve=result.curve,
            train_seconds=seconds,
            warnings=data.warnings,
            skipped=data.skipped,
        )

    # ------------------------------------------------------------------ data

    def _run_training(self, request: TrainClassifierRequest, progress: Progress) -> TrainClassifierResult:
        """Train through the trainer role's handle, passing its progress events on."""
        return self.manager.handle(TRAINER).stream(request).follow(
            lambda event: progress(event.fraction, event.message)
        )

    def _fashion_mnist(self, limit: int | None, method: str, fine_tune: bool, progress: Progress) -> _Prepared:
        train = load_fashion_mnist("train", limit)
        test = load_fashion_mnist("test", None if limit is None else max(10, limit // 5))
        counts = np.bincount(train.labels, minlength=10)
        data = _Prepared(
            class_names=list(FASHION_MNIST_CLASSES),
            counts={c: int(n) for c, n in zip(FASHION_MNIST_CLASSES, counts, strict=True)},
            y_train=train.labels, y_test=test.labels,
        )
        if method == "cnn":
            data.train_inputs, data.test_inputs = train.images, test.images
            return data
        images = [Image.fromarray(a) for a in np.concatenate([train.images, test.images])]
        labels = np.concatenate([train.labels, test.labels])
        ingested = self._ingest(images, labels, method, fine_tune, progress)
        n = len(train.labels)
        data.train_inputs, data.test_inputs = ingested.inputs[:n], ingested.inputs[n:]
        if fine_tune:
            data.train_crops, data.test_crops = np.stack(ingested.crops[:n]), np.stack(ingested.crops[n:])
        return data

    def _folder_set(
        self, source: str | Path, limit: int | None, method: str, fine_tune: bool, progress: Progress
    ) -> _Prepared:
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        data = open_training_source(source, self.uploads_dir)
        try:
            paths, labels = data.paths, data.labels
            if limit is not None and limit < len(paths):
                keep = np.sort(np.random.default_rng(0).permutation(len(paths))[:limit])
                paths, labels = [paths[i] for i in keep], labels[keep]
            if fine_tune and len(paths) > MAX_FINETUNE_IMAGES:
                raise InvalidInputError(
                    f"Fine-tuning keeps every image in memory; at most {MAX_FINETUNE_IMAGES:,} "
                    f"images ({len(paths):,} given; use limit=, or the head alone)."
                )
            ingested = self._ingest(paths, labels, method, fine_tune, progress)
        finally:
            if data.extracted_dir is not None:
                # Images are decoded by now; the extracted upload is not kept.
                shutil.rmtree(data.extracted_dir, ignore_errors=True)
        y = ingested.labels
        present = np.bincount(y, minlength=len(data.class_names))
        short = [n for n, c in zip(data.class_names, present, strict=True) if c < 2]
        if short:
            raise InvalidInputError(
                "After skipping unreadable images these classes have fewer than 2 images: "
                + ", ".join(short) + "."
            )
        warnings = list(data.warnings)
        if ingested.skipped:
            warnings.append(
                f"Skipped {len(ingested.skipped)} unreadable image(s): " + "; ".join(ingested.skipped[:5])
            )
        tr, te = stratified_split(y, HOLDOUT)
        out = _Prepared(
            class_names=data.class_names,
            counts={n: int(c) for n, c in zip(data.class_names, present, strict=True)},
            y_train=y[tr], y_test=y[te], warnings=warnings, skipped=ingested.skipped,
            train_inputs=ingested.inputs[tr], test_inputs=ingested.inputs[te],
        )
        if fine_tune:
            out.train_crops = np.stack([ingested.crops[i] for i in tr])
            out.test_crops = np.stack([ingested.crops[i] for i in te])
        return out

    def _ingest(
        self, sources: Sequence[Any], labels: np.ndarray, method: str, keep_crops: bool,
        progress: Progress,
    ) -> _Ingested:
        """Decode images chunk by chunk, skipping unreadable ones with a note.

        For the CNN: 28 x 28 greyscale arrays. For transfer: backbone features
        (one batched core call per chunk), plus 224 x 224 uint8 crops when
        fine-tuning. Only these small forms are kept, never the decoded photos.
        """
        max_pixels = self.manager.settings.limits.max_image_pixels
        kept, arrays, feats, crops, skipped = [], [], [], [], []
        total = len(sources)
        for start in range(0, total, FEATURE_CHUNK):
            decoded = []
            for j in range(start, min(start + FEATURE_CHUNK, total)):
                src = sources[j]
                try:
                    img = to_rgb(src, max_pixels, draft_size=BACKBONE_RESIZE)
                except InvalidInputError as exc:
                    shown = f"{Path(src).parent.name}/{Path(src).name}" if isinstance(src, (str, Path)) else f"image {j}"
                    skipped.append(f"{shown}: {exc}")
                    continue
                kept.append(int(labels[j]))
                if method == "cnn":
                    arrays.append(small_grey(img))
                else:
                    decoded.append(img)
                    if keep_crops:
                        crops.append(serving_crop(img))
            if decoded:
                feats.append(self.embed(decoded))
            done = min(start + FEATURE_CHUNK, total)
            verb = "reading" if method == "cnn" else "embedding"
            progress(READ_SHARE * done / max(1, total), f"{verb} images {done}/{total}")
        if method == "cnn":
            inputs = np.stack(arrays) if arrays else np.zeros((0, CNN_SIZE, CNN_SIZE), np.uint8)
        else:
            inputs = np.concatenate(feats) if feats else np.zeros((0, FEATURE_DIM), np.float32)
        return _Ingested(np.asarray(kept, dtype=np.int64), inputs, crops, skipped)


@dataclass
class _Prepared:
    """A training set split into training and held-out parts, in the trainer's input forms.

    ``*_inputs``: 28 x 28 uint8 images (CNN) or backbone features (head);
    ``*_crops``: 224 x 224 uint8 serving crops (fine-tuning only).
    """

    class_names: list[str]
    counts: dict[str, int]
    y_train: np.ndarray
    y_test: np.ndarray
    train_inputs: np.ndarray | None = None
    test_inputs: np.ndarray | None = None
    train_crops: np.ndarray | None = None
    test_crops: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Ingested:
    """Decoded training images in the small forms training needs."""

    labels: np.ndarray
    inputs: np.ndarray  # (N, 28, 28) uint8 for the CNN, (N, FEATURE_DIM) float32 features otherwise
    crops: list[np.ndarray]
    skipped: list[str]


def _span(progress: Progress, low: float, high: float) -> Progress:
    """A progress callback that maps [0, 1] onto [low, high] of the outer one."""
    return lambda f, msg: progress(low + (high - low) * min(max(f, 0.0), 1.0), msg)


def _default_name(source: str | Path) -> str:
    stem = Path(source).stem or "classifier"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
