"""Object detection: the darknet reader on its own, then YOLOv3-tiny on real photos via the manager."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

import shared_models.object_detection as od
from core.errors import InvalidInputError, ModelUnavailableError, OfflineModelError
from core.packages import verified_path
from core.registry import LoadContext
from shared_models.darknet import ConvLayer, Darknet, parse_cfg
from shared_models.object_detection import Detection, DetectRequest


@pytest.fixture(scope="module")
def detect(manager):
    return manager.handle("detection")


def external_ctx(manager, source: str) -> LoadContext:
    settings = manager.settings.model_copy(update={"offline": True})
    return LoadContext(settings, manager.policy, settings.model_cache_dir, source=source)


def find(found: list[Detection], label: str) -> Detection:
    hits = [d for d in found if d.label == label]
    assert hits, f"no {label} in {[(d.label, round(d.score, 2)) for d in found]}"
    return hits[0]


def assert_inside(box: tuple[float, float, float, float], width: int, height: int) -> None:
    x0, y0, x1, y1 = box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (box, width, height)


# ------------------------------------------------------------------ darknet reader


def test_yolov3_tiny_cfg_builds_and_weights_fill_it_exactly(settings) -> None:
    cfg = verified_path(od.YOLO_CFG, settings.model_cache_dir)
    weights = verified_path(od.YOLO_WEIGHTS, settings.model_cache_dir)
    sections = parse_cfg(cfg.read_text())
    assert sections[0].type == "net" and len(sections) == 25
    model = Darknet(sections)
    assert len(model.layers) == 24 and len(model.yolo_layers) == 2
    assert sum(isinstance(m, ConvLayer) for m in model.layers) == 13
    used = model.load_weights(weights)
    assert used * 4 + 20 == weights.stat().st_size  # every byte after the 20-byte header
    with torch.inference_mode():
        heads = model.eval()(torch.zeros(2, 3, 416, 416))
        decoded = model.decode(heads, (416, 416))
    # The size-2 stride-1 max-pool keeps 13x13, so the heads are 13x13 and 26x26.
    assert [tuple(h.shape) for h in heads] == [(2, 255, 13, 13), (2, 255, 26, 26)]
    assert tuple(decoded.shape) == (2, 3 * (13 * 13 + 26 * 26), 85)
    probs = decoded[..., 4:]
    assert float(probs.min()) >= 0 and float(probs.max()) <= 1


TINY_CFG = """
[net]
width=8
height=8
channels=3

[convolutional]
batch_normalize=1
filters=2
size=1
stride=1
pad=1
activation=leaky

[convolutional]
filters=1
size=1
stride=1
pad=1
activation=linear
"""


def test_weights_are_read_in_darknet_order(tmp_path: Path) -> None:
    # BN conv: beta(2) gamma(2) mean(2) var(2) weights(2*3); plain conv: bias(1) weights(1*2).
    n = 8 + 6 + 1 + 2
    header = struct.pack("<iiiq", 0, 2, 0, 12345)
    path = tmp_path / "tiny.weights"
    path.write_bytes(header + np.arange(n, dtype="<f4").tobytes())
    model = Darknet(parse_cfg(TINY_CFG))
    assert model.load_weights(path) == n
    bn_conv, plain = model.layers
    assert bn_conv.bn.bias.tolist() == [0, 1] and bn_conv.bn.weight.tolist() == [2, 3]
    assert bn_conv.bn.running_mean.tolist() == [4, 5] and bn_conv.bn.running_var.tolist() == [6, 7]
    assert bn_conv.conv.weight.flatten().tolist() == [8, 9, 10, 11, 12, 13]
    assert plain.conv.bias.tolist() == [14] and plain.conv.weight.flatten().tolist() == [15, 16]
    # One float too many or too few is a mismatched cfg/weights pair, not a silent load.
    path.write_bytes(header + np.arange(n + 1, dtype="<f4").tobytes())
    with pytest.raises(ValueError, match="more than the cfg uses"):
        model.load_weights(path)
    path.write_bytes(header + np.arange(n - 1, dtype="<f4").tobytes())
    with pytest.raises(ValueError, match="ends early"):
        model.load_weights(path)


def test_unknown_layer_is_refused() -> None:
    with pytest.raises(ValueError, match="Unsupported darknet layer"):
        Darknet(parse_cfg("[net]\nwidth=8\n[shortcut]\nfrom=-3\n"))


# ------------------------------------------------------------------ YOLOv3-tiny via the manager


def test_default_is_the_bundled_yolo(detect) -> None:
    assert detect.name == "yolov3-tiny"


def test_coffee_has_a_cup(detect) -> None:
    image = skimage.data.coffee()  # 600 x 400
    [found] = detect.call([image])
    cup = find(found, "cup")
    assert_inside(cup.box, 600, 400)
    # The cup fills the middle of the photo.
    cx, cy = (cup.box[0] + cup.box[2]) / 2, (cup.box[1] + cup.box[3]) / 2
    assert 150 < cx < 450 and 100 < cy < 300, cup.box
    scores = [d.score for d in found]
    assert scores == sorted(scores, reverse=True) and all(0.25 < s <= 1 for s in scores)


def test_motorcycle_is_a_motorbike(detect) -> None:
    image = skimage.data.stereo_motorcycle()[0]  # 741 x 500
    [found] = detect.call([DetectRequest(image, threshold=0.3)])
    bike = find(found, "motorbike")
    assert_inside(bike.box, 741, 500)
    assert (bike.box[2] - bike.box[0]) * (bike.box[3] - bike.box[1]) > 0.3 * 741 * 500


def test_boxes_map_back_to_original_pixels(detect) -> None:
    # Twice the size gives (almost) the same 416x416 network input, so the boxes
    # must come back twice as large, within the image.
    coffee = skimage.data.coffee()
    big = np.asarray(Image.fromarray(coffee).resize((1200, 800), Image.Resampling.BILINEAR))
    small_found, big_found = detect.call([coffee, big])
    small_cup, big_cup = find(small_found, "cup"), find(big_found, "cup")
    assert_inside(big_cup.box, 1200, 800)
    np.testing.assert_allclose(np.array(big_cup.box), 2 * np.array(small_cup.box), atol=12)
    # A tall strip: the letterbox pads left and right; boxes stay inside 200 x 400.
    strip = np.ascontiguousarray(coffee[:, 200:400])
    for d in detect.call([DetectRequest(strip, threshold=0.05)])[0]:
        assert_inside(d.box, 200, 400)


def test_batch_rows_keep_their_own_results(manager, detect) -> None:
    photos = [skimage.data.coffee(), skimage.data.stereo_motorcycle()[0]]
    together = detect.call(photos)
    assert "cup" in {d.label for d in together[0]} and "motorbike" in {d.label for d in together[1]}
    # Pixel-level agreement in float32; bf16/fp16 GPU kernels vary with the batch size.
    atol = 0.5 if manager.policy.dtype == torch.float32 else 4.0
    for photo, row in zip(photos, together, strict=True):
        [alone] = detect.call([photo])
        assert [d.label for d in alone] == [d.label for d in row]
        np.testing.assert_allclose([d.box for d in alone], [d.box for d in row], atol=atol)


def test_request_options(detect) -> None:
    coffee = skimage.data.coffee()
    loose, one, strict = detect.call(
        [
            DetectRequest(coffee, threshold=0.01),
            DetectRequest(coffee, threshold=0.01, max_detections=1),
            DetectRequest(coffee, threshold=0.99),
        ]
    )
    assert len(loose) > 1 and len(one) == 1 and strict == []
    assert one[0] == loose[0]


def test_bad_rows_fail_alone(manager, detect) -> None:
    coffee = skimage.data.coffee()
    with manager.use("detection") as runner:
        out = runner(
            [
                DetectRequest(coffee, threshold=1.5),
                DetectRequest(coffee, iou=-0.1),
                DetectRequest(coffee, max_detections=0),
                b"GIF89a-not-really",
                coffee,
            ]
        )
    for bad, word in zip(
        out[:4], ("threshold", "iou", "max_detections", "not an image"), strict=True
    ):
        assert isinstance(bad, InvalidInputError) and word in str(bad)
    assert "cup" in {d.label for d in out[4]}
    with pytest.raises(InvalidInputError, match="threshold"):
        detect.call([DetectRequest(coffee, threshold=float("nan"))])


def test_torchvision_offline_names_the_bundled_default(manager, tmp_path: Path, monkeypatch) -> None:
    # An empty torch hub folder: the weights are not cached whatever this machine holds,
    # so the offline refusal is always exercised (a real empty cache, not a fake loader).
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert Path(torch.hub.get_dir()) == tmp_path / "hub"
    with pytest.raises(OfflineModelError, match="yolov3-tiny"):
        od.load_external(
            external_ctx(manager, "torchvision:FasterRCNN_ResNet50_FPN_Weights.COCO_V1")
        )


def test_torchvision_and_local_sources_are_checked(manager) -> None:
    with pytest.raises(ModelUnavailableError, match="not for a detection model"):
        od.load_external(external_ctx(manager, "torchvision:ResNet50_Weights.IMAGENET1K_V2"))
    with pytest.raises(InvalidInputError, match="cannot load"):
        od.load_external(external_ctx(manager, "local:/tmp"))
