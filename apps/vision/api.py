"""The image recognition API: classify, detect, train your own classifier, find similar images.

Every model runs in the shared core: ImageNet classification and the 1280-d
embeddings come from the ``efficientnet-lite0`` backbone, detection from the
``detection`` role, and classifiers trained here are registered in the core as
``vision:<name>`` and batched like any other model. Only fine-tuning holds an
app-owned copy of the backbone, because its weights change.

Example::

    from apps.vision import ImageRecognizer
    rec = ImageRecognizer()
    rec.classify("cat.jpg", top_k=5)            # [Prediction(label='tabby', score=0.41), ...]
    rec.detect("street.jpg", threshold=0.25)    # [Detection(label='car', score=0.8, box=(...)), ...]
    report = rec.train_classifier("products.zip", epochs=10)
    rec.classify("new.jpg", model=report.model_id)
    rec.index_images(["a.jpg", "b.jpg"]); rec.similar("query.jpg", k=5)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core import get_manager
from core.errors import InvalidInputError
from core.manager import ModelManager
from core.packages import verified_path
from core.registry import EXTERNAL_PREFIXES
from shared_models.efficientnet_lite import load_efficientnet_lite0
from shared_models.image_classification import (
    LITE0_CROP,
    LITE0_MEAN,
    LITE0_RESIZE,
    LITE0_STD,
    LITE0_WEIGHTS,
    ClassificationResult,
    ClassifyRequest,
    Prediction,
)
from shared_models.images import to_rgb
from shared_models.object_detection import Detection, DetectRequest

from . import storage
from .cnn import CNN_SIZE
from .datasets import (
    FASHION_MNIST,
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    open_training_source,
    stratified_split,
)
from .evaluation import HeldOutMetrics, held_out_metrics
from .search import SimilarImage, SimilarityIndex
from .training import (
    Progress,
    TrainingCurve,
    _to_input,
    fine_tune,
    no_progress,
    predict_cnn,
    predict_tensors,
    train_linear_head,
    train_small_cnn,
)

BACKBONE = "efficientnet-lite0"  # the shared backbone: embeddings for transfer and search
FEATURE_DIM = 1280
IMAGENET_CHOICE = "imagenet"  # ``model=None`` or this: the classification role from settings
METHODS = ("auto", "head", "cnn")
FEATURE_CHUNK = 64  # images per handle call while extracting features (progress granularity)
MAX_TOP_K = 1000
MAX_FINETUNE_IMAGES = 3000  # new app limit: fine-tuning keeps every 224x224 crop in memory
MAX_EPOCHS = 200
HOLDOUT = 0.2


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


@dataclass
class BatchItem:
    """One image of a batch call: its result, or the error that image got."""

    result: Any = None
    error: str | None = None


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
        self._index: SimilarityIndex | None = None
        for saved in self.models.list():
            storage.register(self.manager.registry, saved)

    @property
    def max_pixels(self) -> int:
        return self.manager.settings.limits.max_image_pixels

    # ------------------------------------------------------------------ classification

    def classifier_choices(self) -> list[tuple[str, str]]:
        """(display name, model) pairs: the ImageNet model, then trained models, newest first."""
        imagenet = self.manager.spec("classification").name
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

    def classify_batch(
        self, images: Sequence[Any], top_k: int = 5, model: str | None = None
    ) -> list[BatchItem]:
        """Classify several images in one call to the shared core (one forward pass per batch).

        Each image gets its own ``BatchItem``: a bad image carries an error message
        and does not fail the others.
        """
        top_k = _check_top_k(top_k)
        handle = self.manager.handle(self._resolve_classifier(model))
        items, good = self._decode_all(images, draft_size=LITE0_RESIZE)
        if good:
            results = handle.call([ClassifyRequest(img, top_k=top_k) for _, img in good])
            for (i, _), res in zip(good, results, strict=True):
                items[i].result = res.predictions
        return items

    def _resolve_classifier(self, model: str | None) -> str:
        if model is None or model in ("", IMAGENET_CHOICE):
            return "classification"
        if model.startswith(EXTERNAL_PREFIXES):
            registry = self.manager.registry
            if model not in registry.names():
                # The manager resolves external sources only for a role's configured
                # choice; register this one under its own name so it can be called.
                registry.register(registry.external("classification", model))
            return model
        saved = self.models.get(model)
        storage.register(self.manager.registry, saved)
        return saved.model_id

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
            handle = self.manager.handle("detection")
            requests = [DetectRequest(img, threshold=float(threshold), iou=float(iou)) for _, img in good]
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
            chunk = images[start : start + FEATURE_CHUNK]
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
        if method == "cnn":
            net, curve = train_small_cnn(
                data.x_train, data.y_train, data.x_test, data.y_test, len(classes), epochs,
                _span(progress, 0.6 if not fmnist else 0.05, 0.95),
            )
            pred = predict_cnn(net, _to_input(data.x_test))
            used_method = "cnn"
        else:
            net, curve, pred, used_method = self._transfer(data, epochs, fine_tune_epochs, progress)
        metrics = held_out_metrics(data.y_test, pred, classes)
        seconds = time.perf_counter() - started
        progress(0.97, "saving the model")
        record = storage.SavedModel(
            name=name or ("fashion-mnist-" + used_method if fmnist else _default_name(folder_or_zip)),
            folder=Path(),
            method=used_method,
            labels=classes,
            metrics=metrics.to_dict(),
            curve=curve.to_dict(),
            train_seconds=round(seconds, 1),
            source=FASHION_MNIST if fmnist else Path(folder_or_zip).name,
            warnings=data.warnings,
        )
        saved = self.models.save(net, record)
        storage.register(self.manager.registry, saved)
        progress(1.0, f"saved as {saved.name}")
        return TrainingReport(
            name=saved.name,
            model_id=saved.model_id,
            method=used_method,
            class_names=classes,
            counts=data.counts,
            metrics=metrics,
            curve=curve,
            train_seconds=seconds,
            warnings=data.warnings,
            skipped=data.skipped,
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
            data.x_train, data.x_test = train.images, test.images
            return data
        images = [Image.fromarray(a) for a in np.concatenate([train.images, test.images])]
        labels = np.concatenate([train.labels, test.labels])
        ingested = self._ingest(images, labels, method, fine_tune, progress)
        n = len(train.labels)
        data.f_train, data.f_test = ingested.features[:n], ingested.features[n:]
        if fine_tune:
            data.x_train, data.x_test = ingested.crops[:n], ingested.crops[n:]
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
        )
        if method == "cnn":
            out.x_train, out.x_test = ingested.arrays[tr], ingested.arrays[te]
        else:
            out.f_train, out.f_test = ingested.features[tr], ingested.features[te]
            if fine_tune:
                out.x_train = [ingested.crops[i] for i in tr]
                out.x_test = [ingested.crops[i] for i in te]
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
        crop = _lite0_crop_u8() if keep_crops else None
        kept, arrays, feats, crops, skipped = [], [], [], [], []
        total = len(sources)
        for start in range(0, total, FEATURE_CHUNK):
            decoded = []
            for j in range(start, min(start + FEATURE_CHUNK, total)):
                src = sources[j]
                try:
                    img = to_rgb(src, self.max_pixels, draft_size=LITE0_RESIZE)
                except InvalidInputError as exc:
                    shown = f"{Path(src).parent.name}/{Path(src).name}" if isinstance(src, (str, Path)) else f"image {j}"
                    skipped.append(f"{shown}: {exc}")
                    continue
                kept.append(int(labels[j]))
                if method == "cnn":
                    grey = img.convert("L").resize((CNN_SIZE, CNN_SIZE), Image.Resampling.BILINEAR)
                    arrays.append(np.asarray(grey, dtype=np.uint8))
                else:
                    decoded.append(img)
                    if crop is not None:
                        crops.append(crop(img))
            if decoded:
                feats.append(self.embed(decoded))
            done = min(start + FEATURE_CHUNK, total)
            verb = "reading" if method == "cnn" else "embedding"
            progress(0.6 * done / max(1, total), f"{verb} images {done}/{total}")
        return _Ingested(
            labels=np.asarray(kept, dtype=np.int64),
            arrays=np.stack(arrays) if arrays else None,
            features=np.concatenate(feats) if feats else np.zeros((0, FEATURE_DIM), np.float32),
            crops=crops,
            skipped=skipped,
        )

    def _transfer(
        self, data: _Prepared, epochs: int, fine_tune_epochs: int, progress: Progress
    ) -> tuple[torch.nn.Module, TrainingCurve, np.ndarray, str]:
        """Head on frozen shared-backbone features, then optional fine-tuning of a copy."""
        share_end = 0.7 if fine_tune_epochs else 0.95
        head, curve = train_linear_head(
            data.f_train, data.y_train, data.f_test, data.y_test, len(data.class_names), epochs,
            _span(progress, 0.6, share_end),
        )
        pred = head.logits(data.f_test).argmax(1).numpy()
        # The saved model is a whole EfficientNet-Lite0 with the new head, in the core's
        # local: format; the backbone copy comes from the same verified weight file.
        model = load_efficientnet_lite0(verified_path(LITE0_WEIGHTS, self.manager.settings.model_cache_dir))
        model._fc = torch.nn.Linear(head.weight.shape[1], head.weight.shape[0])
        with torch.no_grad():
            model._fc.weight.copy_(head.weight)
            model._fc.bias.copy_(head.bias)
        if not fine_tune_epochs:
            return model.eval(), curve, pred, "head"
        from torchvision.transforms import v2

        augment = v2.Compose(
            [v2.RandomHorizontalFlip(), v2.RandomResizedCrop(LITE0_CROP, scale=(0.7, 1.0), antialias=True)]
        )
        tuned = fine_tune(
            model, data.x_train, data.y_train, data.x_test, data.y_test, len(data.class_names),
            fine_tune_epochs, augment, _lite0_input, _span(progress, share_end, 0.95),
        )
        for e in range(len(tuned.epoch)):
            curve.add(tuned.train_loss[e], tuned.train_accuracy[e], tuned.heldout_accuracy[e])
        pred = predict_tensors(model, data.x_test, _lite0_input)
        return model.eval(), curve, pred, "finetune"

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
        vector = self.embed([to_rgb(image, self.max_pixels, LITE0_RESIZE)])[0]
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


@dataclass
class _Prepared:
    """A training set split into training and held-out parts.

    ``x_*``: 28 x 28 uint8 arrays (CNN) or 224 x 224 uint8 crops (fine-tuning);
    ``f_*``: backbone features (transfer).
    """

    class_names: list[str]
    counts: dict[str, int]
    y_train: np.ndarray
    y_test: np.ndarray
    x_train: Any = None
    x_test: Any = None
    f_train: np.ndarray | None = None
    f_test: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Ingested:
    """Decoded training images in the small forms training needs."""

    labels: np.ndarray
    arrays: np.ndarray | None
    features: np.ndarray
    crops: list[torch.Tensor]
    skipped: list[str]


def _lite0_crop_u8() -> Callable[[Image.Image], torch.Tensor]:
    """The serving crop of EfficientNet-Lite0 (bicubic resize, centre crop), kept as uint8."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.Resize(LITE0_RESIZE, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(LITE0_CROP),
            T.PILToTensor(),
        ]
    )


def _lite0_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 crops -> the model's input: scaled to [-1, 1] (mean = std = 0.5, as served)."""
    mean = torch.tensor(LITE0_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(LITE0_STD).view(1, 3, 1, 1)
    return (batch.float() / 255.0 - mean) / std


def _span(progress: Progress, low: float, high: float) -> Progress:
    """A progress callback that maps [0, 1] onto [low, high] of the outer one."""
    return lambda f, msg: progress(low + (high - low) * min(max(f, 0.0), 1.0), msg)


def _check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be an integer in [1, {MAX_TOP_K}], got {top_k!r}.")
    return top_k


def _check_unit(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidInputError(f"{name} must be a number in [0, 1], got {value!r}.")


def _default_name(source: str | Path) -> str:
    stem = Path(source).stem or "classifier"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
