"""Grad-CAM explanations from the classification role: real photos, placed where we know.

A scikit-image photo pasted into one quadrant of a plain grey canvas: the heatmap of the
class the model found must sit on that quadrant, wherever the photo goes, and two photos
on one canvas must each light up their own quadrant for their own class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

import shared_models.image_classification as ic
from core.errors import InvalidInputError
from core.registry import LoadContext
from shared_models.grad_cam import CAM_LAYERS, cam_layer
from shared_models.types.vision import ClassificationResult, ClassifyRequest

CAT_LABELS = {"tabby", "Egyptian cat", "tiger cat"}
SIDE = 224  # each photo's square on a 2 x 2 canvas
GREY = (128, 128, 128)


@pytest.fixture(scope="module")
def classify(manager):
    return manager.handle("classification")


def canvas(photos: dict[int, np.ndarray]) -> np.ndarray:
    """A grey 448 x 448 canvas with each photo squeezed into its quadrant (0 TL, 1 TR, 2 BL, 3 BR)."""
    out = Image.new("RGB", (2 * SIDE, 2 * SIDE), GREY)
    for quadrant, photo in photos.items():
        out.paste(Image.fromarray(photo).resize((SIDE, SIDE)), ((quadrant % 2) * SIDE, (quadrant // 2) * SIDE))
    return np.asarray(out)


def quadrant_mass(heatmap: np.ndarray) -> np.ndarray:
    """The share of the heatmap's mass in each quadrant (the map covers a centred square crop)."""
    fine = np.kron(heatmap, np.ones((2, 2)))  # odd sides split exactly down the middle
    h, w = fine.shape[0] // 2, fine.shape[1] // 2
    parts = np.array([fine[:h, :w].sum(), fine[:h, w:].sum(), fine[h:, :w].sum(), fine[h:, w:].sum()])
    return parts / parts.sum()


def check_map(result: ClassificationResult) -> np.ndarray:
    heatmap = result.explanation.heatmap
    assert heatmap.dtype == np.float32 and heatmap.ndim == 2 and 7 <= heatmap.shape[0] <= 14
    assert np.isfinite(heatmap).all() and heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    return heatmap


@pytest.mark.parametrize("quadrant", [0, 1, 2, 3])
def test_the_heatmap_follows_the_cat(classify, quadrant: int) -> None:
    [result] = classify.call([ClassifyRequest(canvas({quadrant: skimage.data.chelsea()}), explain=True)])
    top = result.predictions[0]
    assert top.label in CAT_LABELS, result.predictions
    assert result.explanation.label == top.label and result.explanation.score == pytest.approx(top.score)
    mass = quadrant_mass(check_map(result))
    assert mass.argmax() == quadrant and mass[quadrant] > 0.6, mass.round(2)  # chance: 0.25
    # The hottest cell is on the photo's side of each midline (the middle cell straddles both).
    row, col = np.unravel_index(result.explanation.heatmap.argmax(), result.explanation.heatmap.shape)
    assert (row >= 3 if quadrant >= 2 else row <= 3) and (col >= 3 if quadrant % 2 else col <= 3)


def test_each_class_lights_up_its_own_photo(classify) -> None:
    both = canvas({0: skimage.data.chelsea(), 3: skimage.data.coffee()})
    [plain] = classify.call([ClassifyRequest(both, top_k=1000)])
    cat = next(p.label for p in plain.predictions if p.label in CAT_LABELS)
    cup = "espresso"  # not in the top 10 beside the cat, but any label can be explained
    cat_map, cup_map, again = classify.call(
        [
            ClassifyRequest(both, top_k=1000, explain=True, explain_label=cat),
            ClassifyRequest(both, top_k=1000, explain=True, explain_label=cup),
            ClassifyRequest(both, top_k=1000),
        ]
    )
    assert (cat_map.explanation.label, cup_map.explanation.label) == (cat, cup)
    assert quadrant_mass(check_map(cat_map)).argmax() == 0
    assert quadrant_mass(check_map(cup_map)).argmax() == 3
    # Explaining changes nothing about the answer, and a plain row in the batch gets no map.
    # (Up to rounding: a batch of three runs other kernels than a batch of one.)
    assert cat_map.predictions == again.predictions
    assert [p.label for p in again.predictions[:5]] == [p.label for p in plain.predictions[:5]]
    np.testing.assert_allclose([p.score for p in again.predictions[:5]],
                               [p.score for p in plain.predictions[:5]], atol=1e-3)
    assert again.explanation is None
    scores = {p.label: p.score for p in plain.predictions}
    assert cup_map.explanation.score == pytest.approx(scores[cup], abs=1e-4)


def test_the_box_is_the_centre_crop_the_model_saw(classify) -> None:
    cat = skimage.data.chelsea()  # 451 x 300: the crop keeps 224/256 of the 300-pixel height
    [result] = classify.call([ClassifyRequest(cat, explain=True)])
    side = 300 * 224 / 256
    want = ((451 - side) / 2 / 451, 0.0625, (451 + side) / 2 / 451, 0.9375)
    np.testing.assert_allclose(result.explanation.box, want, atol=1e-6)
    assert result.explanation.label in CAT_LABELS
    # The small CNN squeezes the whole image: its maps cover all of it.
    assert ic._view_box((451, 300), None) == (0.0, 0.0, 1.0, 1.0)


def test_bad_explain_requests_fail_alone(manager, classify) -> None:
    coffee = skimage.data.coffee()
    with manager.use("classification") as runner:
        out = runner(
            [
                ClassifyRequest(coffee, explain="yes"),
                ClassifyRequest(coffee, explain_label="espresso"),  # without explain=True
                ClassifyRequest(coffee, explain=True, explain_label="no such label"),
                ClassifyRequest(coffee, explain=True),
            ]
        )
    assert isinstance(out[0], InvalidInputError) and "explain must be True or False" in str(out[0])
    assert isinstance(out[1], InvalidInputError) and "needs explain=True" in str(out[1])
    assert isinstance(out[2], InvalidInputError) and "'no such label' is not one of" in str(out[2])
    assert isinstance(out[3], ClassificationResult) and out[3].explanation.label == "espresso"


def test_a_detector_refuses_an_explanation_by_name(manager) -> None:
    with pytest.raises(InvalidInputError, match="detection model cannot give an explanation"):
        manager.handle("detection").call([ClassifyRequest(skimage.data.coffee(), explain=True)])


def _local(manager, folder: Path) -> ic.ImageClassifier:
    settings = manager.settings.model_copy(update={"offline": True})
    ctx = LoadContext(settings, manager.policy, settings.model_cache_dir, source=f"local:{folder}")
    return ic.load_external(ctx)


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_classifiers_are_explained_on_their_last_stage(manager, tmp_path, arch) -> None:
    from torchvision import models

    torch.manual_seed(0)
    model = models.get_model(arch, weights=None, num_classes=3).eval()
    runner = _local(manager, ic.save_local_classifier(tmp_path / arch, model, arch, ["a", "b", "c"]))
    assert runner.cam_layer is runner.model.get_submodule(CAM_LAYERS[type(model).__name__])
    [result] = runner([ClassifyRequest(skimage.data.coffee(), explain=True, explain_label="b")])
    heatmap = result.explanation.heatmap
    assert result.explanation.label == "b" and heatmap.shape == (7, 7)
    assert np.isfinite(heatmap).all() and heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_an_architecture_without_a_known_layer_says_so(manager, tmp_path) -> None:
    from torchvision.models import squeezenet1_1

    model = squeezenet1_1(num_classes=2).eval()
    assert cam_layer(model) is None
    runner = _local(manager, ic.save_local_classifier(tmp_path / "sq", model, "squeezenet1_1", ["x", "y"]))
    plain, explained = runner([skimage.data.coffee(), ClassifyRequest(skimage.data.coffee(), explain=True)])
    assert isinstance(plain, ClassificationResult)  # classifying still works
    assert isinstance(explained, InvalidInputError)
    assert "not available for a SqueezeNet" in str(explained) and "ResNet" in str(explained)


def test_every_layer_in_the_table_exists(manager) -> None:
    from torchvision import models

    from shared_models.efficientnet_lite import EfficientNetLite0
    from shared_models.small_cnn import SmallCNN

    builders = {"ResNet": "resnet18", "RegNet": "regnet_y_400mf", "MobileNetV2": "mobilenet_v2",
                "MobileNetV3": "mobilenet_v3_small", "EfficientNet": "efficientnet_b0",
                "ConvNeXt": "convnext_tiny", "DenseNet": "densenet121", "MNASNet": "mnasnet0_5",
                "ShuffleNetV2": "shufflenet_v2_x0_5", "VGG": "vgg11", "AlexNet": "alexnet"}  # fmt: skip
    assert set(builders) | {"EfficientNetLite0", "SmallCNN"} == set(CAM_LAYERS)
    for cls, name in builders.items():
        model = models.get_model(name, weights=None, num_classes=2)
        assert type(model).__name__ == cls and cam_layer(model) is not None
    # Ours: the layer is the last activation with spatial positions.
    assert isinstance(cam_layer(SmallCNN(2)), torch.nn.ReLU)
    assert isinstance(cam_layer(EfficientNetLite0(2)), torch.nn.ReLU6)
