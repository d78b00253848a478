"""Classifier training role: labelled images (or their features) in, a saved classifier out.

The vision app trains classifiers without holding model weights: it sends a
``TrainClassifierRequest`` to ``manager.handle(TRAINER)`` and gets back a
``TrainClassifierResult``. The trainer writes the model into the request's folder
in the ``local:`` format of the classification role (``config.json`` +
``model.safetensors``), which ``manager.add_local_model`` then serves.

- ``"head"``: a linear head on frozen EfficientNet-Lite0 features (the caller
  extracts them through the backbone's own handle, so the shared model does that
  work, batched). The head is folded into a copy of EfficientNet-Lite0 read from
  the same verified weight file; with ``fine_tune_epochs`` its last blocks are then
  fine-tuned on the serving crops.
- ``"cnn"``: ``SmallCNN`` from scratch on 28 x 28 greyscale images.

Training runs on the CPU, as the loops in ``image_training.py`` are written, and
one request at a time (``max_batch_size=1``): a request is minutes of work, not a
forward pass to share.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.errors import InvalidInputError
from core.packages import verified_path
from core.registry import LoadContext, ModelRunner, ModelSpec, register, run_valid_rows
from core.streaming import StreamChannel

from .efficientnet_lite import load_efficientnet_lite0
from .image_classification import (
    LITE0_ARCH,
    LITE0_MEAN,
    LITE0_STD,
    LITE0_WEIGHTS,
    save_local_classifier,
)
from .image_training import (
    Progress,
    cnn_input,
    fine_tune,
    no_progress,
    predict_cnn,
    predict_tensors,
    train_linear_head,
    train_small_cnn,
)
from .small_cnn import CNN_ARCH
from .types.events import ProgressEvent
from .types.vision import (
    BACKBONE_CROP,
    CNN_SIZE,
    FEATURE_DIM,
    TRAINER,
    TRAINING_ROLE,
    TrainClassifierRequest,
    TrainClassifierResult,
)

ROLE = TRAINING_ROLE
MAX_EPOCHS = 200


class ClassifierTrainingRunner(ModelRunner):
    """Trains one ``TrainClassifierRequest`` per call.

    It keeps one pristine EfficientNet-Lite0 (about 19 MB) loaded, so the memory it
    needs is in the core's budget like any model's; each transfer request trains a
    copy of it.
    """

    def __init__(self, backbone: nn.Module) -> None:
        self.backbone = backbone.eval()

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return self.run_streams(inputs, [None] * len(inputs))

    def run_streams(self, inputs: list[Any], channels: list[StreamChannel | None]) -> list[Any]:
        """Train each request; a streamed one gets ``ProgressEvent``s as the loops advance."""
        progress = {id(r): _emitter(c) for r, c in zip(inputs, channels, strict=True)}
        return run_valid_rows(
            inputs, _validated, lambda requests: [self.train(r, progress[id(r)]) for r in requests]
        )

    def train(
        self, request: TrainClassifierRequest, progress: Progress = no_progress
    ) -> TrainClassifierResult:
        """Train, save into ``request.folder``, and predict the test inputs with the saved model.

        ``progress(fraction, message)`` follows the training loops; through the handle,
        ``handle.stream(request)`` receives it as ``ProgressEvent``s.
        """
        folder = Path(request.folder)
        n_classes = len(request.class_names)
        if request.method == "cnn":
            net, curve = train_small_cnn(
                request.train_inputs, request.train_labels, request.test_inputs,
                request.test_labels, n_classes, request.epochs, progress, seed=request.seed,
            )  # fmt: skip
            pred = predict_cnn(net, cnn_input(request.test_inputs))
            save_local_classifier(folder, net, CNN_ARCH, request.class_names, size=CNN_SIZE)
            return TrainClassifierResult("cnn", str(folder), curve, pred)
        return self._transfer(request, progress)

    def _transfer(self, request: TrainClassifierRequest, progress: Progress) -> TrainClassifierResult:
        """A head on frozen features, folded into EfficientNet-Lite0, then optional fine-tuning."""
        n_classes = len(request.class_names)
        fine_epochs = request.fine_tune_epochs
        head, curve = train_linear_head(
            request.train_inputs, request.train_labels, request.test_inputs, request.test_labels,
            n_classes, request.epochs, _span(progress, 0.0, 0.7 if fine_epochs else 1.0),
            seed=request.seed,
        )  # fmt: skip
        pred = head.logits(request.test_inputs).argmax(1).numpy()
        # The saved model is a whole EfficientNet-Lite0 with the new head, so the
        # classification role's local: loader serves it like any Lite0 folder.
        model = copy.deepcopy(self.backbone)
        model._fc = nn.Linear(head.weight.shape[1], head.weight.shape[0])
        with torch.no_grad():
            model._fc.weight.copy_(head.weight)
            model._fc.bias.copy_(head.bias)
        method = "head"
        if fine_epochs:
            from torchvision.transforms import v2

            augment = v2.Compose(
                [v2.RandomHorizontalFlip(), v2.RandomResizedCrop(BACKBONE_CROP, scale=(0.7, 1.0), antialias=True)]
            )
            train_crops, test_crops = _chw(request.train_crops), _chw(request.test_crops)
            tuned = fine_tune(
                model, train_crops, request.train_labels, test_crops, request.test_labels, n_classes,
                fine_epochs, augment, _lite0_input, _span(progress, 0.7, 1.0), seed=request.seed,
            )  # fmt: skip
            curve.extend(tuned)
            pred = predict_tensors(model, test_crops, _lite0_input)
            method = "finetune"
        save_local_classifier(request.folder, model.eval(), LITE0_ARCH, request.class_names)
        return TrainClassifierResult(method, str(request.folder), curve, pred)


def _validated(request: Any) -> TrainClassifierRequest:
    """The request, if it is one the trainer can run; otherwise ``InvalidInputError``."""
    if not isinstance(request, TrainClassifierRequest):
        raise InvalidInputError(f"{TRAINER} takes TrainClassifierRequest, got {type(request).__name__}.")
    if request.method not in ("head", "cnn"):
        raise InvalidInputError(f"method must be 'head' or 'cnn', got {request.method!r}.")
    n_classes = len(request.class_names)
    if n_classes < 2:
        raise InvalidInputError("A classifier needs at least 2 classes.")
    for label, value, low in (("epochs", request.epochs, 1), ("fine_tune_epochs", request.fine_tune_epochs, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_EPOCHS:
            raise InvalidInputError(f"{label} must be an integer in [{low}, {MAX_EPOCHS}].")
    if not request.folder:
        raise InvalidInputError("folder must name where the model is written.")
    if request.method == "cnn":
        shape, dtype = (CNN_SIZE, CNN_SIZE), np.uint8
    else:
        shape, dtype = (FEATURE_DIM,), np.float32
    for split in ("train", "test"):
        x, y = getattr(request, f"{split}_inputs"), getattr(request, f"{split}_labels")
        if not isinstance(x, np.ndarray) or x.shape[1:] != shape or x.dtype != dtype:
            got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise InvalidInputError(f"{split}_inputs must be {np.dtype(dtype)} (N, {', '.join(map(str, shape))}); got {got}.")
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise InvalidInputError(f"{split}_labels must be one integer class per input.")
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise InvalidInputError(f"{split}_labels must be class indices in [0, {n_classes}).")
    if len(request.train_labels) < 2:
        raise InvalidInputError("Training needs at least 2 images.")
    if request.method == "head" and request.fine_tune_epochs:
        for split in ("train", "test"):
            crops, n = getattr(request, f"{split}_crops"), len(getattr(request, f"{split}_labels"))
            want = (n, BACKBONE_CROP, BACKBONE_CROP, 3)
            if not isinstance(crops, np.ndarray) or crops.shape != want or crops.dtype != np.uint8:
                raise InvalidInputError(f"Fine-tuning needs {split}_crops: uint8 {want}.")
    return request


def _chw(crops: np.ndarray | None) -> list[torch.Tensor]:
    """(N, H, W, 3) uint8 crops -> N uint8 (3, H, W) tensors, as the fine-tuning loop takes them."""
    assert crops is not None  # checked by _validated
    return [torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1) for c in crops]


def _lite0_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 crops -> the model's input: scaled to [-1, 1] (mean = std = 0.5, as served)."""
    mean = torch.tensor(LITE0_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(LITE0_STD).view(1, 3, 1, 1)
    return (batch.float() / 255.0 - mean) / std


def _emitter(channel: StreamChannel | None) -> Progress:
    """A progress callback that sends ``ProgressEvent``s to a stream (or says nothing)."""
    if channel is None:
        return no_progress
    return lambda fraction, message: channel.emit(ProgressEvent(float(fraction), str(message)))


def _span(progress: Progress, low: float, high: float) -> Progress:
    """A progress callback that maps [0, 1] onto [low, high] of the outer one."""
    return lambda f, msg: progress(low + (high - low) * min(max(f, 0.0), 1.0), msg)


def load_trainer(ctx: LoadContext) -> ClassifierTrainingRunner:
    """The trainer, with the bundled EfficientNet-Lite0 weights it starts transfer learning from."""
    return ClassifierTrainingRunner(load_efficientnet_lite0(verified_path(LITE0_WEIGHTS, ctx.cache_dir)))


register(
    ModelSpec(
        name=TRAINER,
        role=ROLE,
        load=load_trainer,
        approx_mb=20,  # the pristine EfficientNet-Lite0 it copies; a run's activations are transient
        source="code (shared_models/image_classifier_training.py), EfficientNet-Lite0 package weights",
        description="Trains image classifiers (linear head, fine-tuning, small CNN) into local: folders",
        max_batch_size=1,  # one training run per call: minutes of work, nothing to batch
        batch_wait_ms=0,
        streams=True,  # handle.stream(request): ProgressEvent while training, then the result
    )
)
