"""Vision roles: classification, detection and classifier training requests and results.

Send to ``manager.handle(...)``:

- ``"classification"`` (or a classifier's name, e.g. ``BACKBONE``):
  ``ClassifyRequest`` -> ``ClassificationResult``;
- ``"detection"``: ``DetectRequest`` -> ``list[Detection]``;
- ``TRAINER`` (role ``"classifier-training"``): ``TrainClassifierRequest`` ->
  ``TrainClassifierResult``.
  The trainer writes a model folder that ``manager.add_local_model(name,
  "classification", folder)`` then serves.

Images cross the boundary as ``uint8`` arrays (H x W x 3 RGB, H x W grey or
H x W x 4 RGBA) or as encoded image bytes. In-process the runners also take
what ``core.images.to_rgb`` reads (a path, a PIL image), but only arrays and
bytes are meant to travel to another process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from .events import new_request_id

CLASSIFICATION_ROLE = "classification"
DETECTION_ROLE = "detection"
CLASSIFICATION_DEFAULT_MODEL = "efficientnet-lite0"  # ImageNet-1k, 1000 labels
DETECTION_DEFAULT_MODEL = "yolov3-tiny"  # COCO, 80 labels
TRAINING_ROLE = "classifier-training"
TRAINER = "image-classifier-trainer"  # the model of the training role: handle(TRAINER)
BACKBONE = CLASSIFICATION_DEFAULT_MODEL  # the bundled classifier: 1280-d features for transfer and search
FEATURE_DIM = 1280
# The backbone's serving preprocessing: bicubic resize of the shorter side to 256, centre
# crop 224. A caller that shrinks an image anyway may decode a JPEG in draft mode at this size.
BACKBONE_RESIZE, BACKBONE_CROP = 256, 224
CNN_SIZE = 28  # the small CNN's input side: greyscale images resized to 28 x 28

ImageData = np.ndarray | bytes
TrainMethod = Literal["head", "cnn"]


# ------------------------------------------------------------------ classification


@dataclass(frozen=True)
class ClassifyRequest:
    """One image to classify. ``features=True`` also returns the pooled embedding.

    ``explain=True`` also returns a Grad-CAM heatmap (``Explanation``) of where the
    model looked, for ``explain_label`` or, when that is ``None``, the top class.
    It costs a backward pass; models without a known convolutional layer refuse it.
    """

    image: ImageData
    top_k: int = 5
    features: bool = False
    explain: bool = False
    explain_label: str | None = None


@dataclass(frozen=True)
class Prediction:
    """A label and its softmax probability."""

    label: str
    score: float


@dataclass
class Explanation:
    """Where the classifier looked for one class: a Grad-CAM heatmap.

    ``heatmap`` is a small (h, w) float32 array in [0, 1] (7 x 7 for the bundled
    model), its maximum scaled to 1 (all zeros if nothing in the image raised the
    class's score). It covers ``box`` of the image, not always all of it: the
    models look at a centre crop. ``box`` is (left, top, right, bottom) as fractions
    of the upright image's width and height.
    """

    label: str
    score: float  # the explained class's probability
    heatmap: np.ndarray
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


@dataclass
class ClassificationResult:
    """Top-k predictions, best first; ``features`` is the float32 embedding when asked for.

    The embedding is the input of the final linear layer (1280-d for
    EfficientNet-Lite0), not normalised; L2-normalise it for cosine search.
    It is ``None`` if not requested, or if the model has no final linear layer.
    ``explanation`` is the heatmap when the request asked for one (``explain=True``).
    """

    predictions: list[Prediction]
    features: np.ndarray | None = None
    explanation: Explanation | None = None


# ------------------------------------------------------------------ detection


@dataclass(frozen=True)
class DetectRequest:
    """One image to search for objects.

    ``threshold``: minimum score (objectness x class probability); ``iou``: boxes of
    the same class overlapping more than this are merged by non-maximum suppression.
    """

    image: ImageData
    threshold: float = 0.25
    iou: float = 0.45
    max_detections: int = 100


@dataclass(frozen=True)
class Detection:
    """One object: label, score in [0, 1], and box (x0, y0, x1, y1) in original image pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]


# ------------------------------------------------------------------ training


@dataclass
class TrainingCurve:
    """Per-epoch training loss and accuracy, and accuracy on the held-out split."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    heldout_accuracy: list[float] = field(default_factory=list)

    def add(self, loss: float, train_acc: float, heldout_acc: float) -> None:
        self.epoch.append(len(self.epoch) + 1)
        self.train_loss.append(float(loss))
        self.train_accuracy.append(float(train_acc))
        self.heldout_accuracy.append(float(heldout_acc))

    def extend(self, other: TrainingCurve) -> None:
        """Append ``other``'s epochs after these (fine-tuning after the head)."""
        for e in range(len(other.epoch)):
            self.add(other.train_loss[e], other.train_accuracy[e], other.heldout_accuracy[e])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainClassifierRequest:
    """Train a classifier and write it to ``folder`` in the ``local:`` classification format.

    ``method``:

    - ``"head"``: a linear head on frozen backbone features. ``train_inputs`` and
      ``test_inputs`` are ``(N, FEATURE_DIM)`` float32 features from the
      ``BACKBONE`` handle (``ClassifyRequest(..., features=True)``). The saved model
      is the whole EfficientNet-Lite0 with the new head. ``fine_tune_epochs > 0``
      then fine-tunes its last blocks: ``train_crops`` / ``test_crops`` are the
      images as ``(N, 224, 224, 3)`` uint8 serving crops (``BACKBONE_RESIZE``,
      ``BACKBONE_CROP``), one per row of the features.
    - ``"cnn"``: a small CNN from scratch; the inputs are ``(N, CNN_SIZE, CNN_SIZE)``
      uint8 greyscale images.

    Labels are class indices into ``class_names``. The test split is only scored
    (held-out curve and predictions), never trained on.
    """

    method: TrainMethod
    class_names: list[str]
    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray
    folder: str  # written by the trainer: config.json and model.safetensors
    epochs: int = 3
    fine_tune_epochs: int = 0
    train_crops: np.ndarray | None = None
    test_crops: np.ndarray | None = None
    seed: int = 0
    request_id: str = field(default_factory=new_request_id)  # streamed: ProgressEvent, then the result


@dataclass
class TrainClassifierResult:
    """What training produced: the saved folder, the curve, and held-out predictions.

    ``method`` is ``"head"``, ``"finetune"`` (head, then fine-tuning) or ``"cnn"``.
    ``test_predictions`` holds the arg-max class of each test input, from the model
    as saved, so the caller can score it.
    """

    method: str
    folder: str
    curve: TrainingCurve
    test_predictions: np.ndarray
