"""Where the classifier looked: ``ImageRecognizer.explain``, its overlay, and the page's toggle.

The ImageNet model and a classifier trained here on photo folders are both explained; the
photo is pasted into one quadrant of a grey canvas, so the right answer is known.
"""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

from apps.vision.figures import heatmap_overlay
from core.errors import InvalidInputError

from .conftest import write_image_folder

CAT_LABELS = {"tabby", "Egyptian cat", "tiger cat"}


def cat_in_corner(corner: str) -> Image.Image:
    """Chelsea the cat squeezed into the top-left or bottom-right quarter of a grey square."""
    canvas = Image.new("RGB", (448, 448), (128, 128, 128))
    canvas.paste(Image.fromarray(skimage.data.chelsea()).resize((224, 224)),
                 (0, 0) if corner == "top-left" else (224, 224))
    return canvas


def half_masses(heatmap: np.ndarray) -> tuple[float, float]:
    """Share of the map's mass in its top-left and bottom-right quarters."""
    fine = np.kron(heatmap, np.ones((2, 2)))
    h, w = fine.shape[0] // 2, fine.shape[1] // 2
    return fine[:h, :w].sum() / fine.sum(), fine[h:, w:].sum() / fine.sum()


def test_explain_the_imagenet_model(recognizer):
    seen = recognizer.explain(cat_in_corner("top-left"), top_k=3)
    assert seen.label in CAT_LABELS and seen.label == seen.predictions[0].label
    assert len(seen.predictions) == 3 and seen.score == pytest.approx(seen.predictions[0].score)
    assert seen.heatmap.shape == (7, 7) and seen.heatmap.min() >= 0 and seen.heatmap.max() == pytest.approx(1)
    top_left, bottom_right = half_masses(seen.heatmap)
    assert top_left > 0.6 and bottom_right < 0.05, (top_left, bottom_right)
    # The same predictions as classify(); the overlay is the photo, warm where it looked.
    assert seen.predictions == recognizer.classify(cat_in_corner("top-left"), top_k=3)
    assert seen.overlay.size == (448, 448) and seen.overlay.mode == "RGB"
    overlay = np.asarray(seen.overlay, dtype=float)
    red_minus_blue = overlay[..., 0] - overlay[..., 2]
    assert red_minus_blue[40:180, 40:180].mean() > red_minus_blue[270:410, 270:410].mean() + 40

    # A chosen label, and labels the model does not have.
    espresso = recognizer.explain(skimage.data.coffee(), label="espresso")
    assert espresso.label == "espresso" and espresso.predictions[0].label == "espresso"
    with pytest.raises(InvalidInputError, match="'kitten' is not one of this model's labels"):
        recognizer.explain(skimage.data.coffee(), label="kitten")
    with pytest.raises(InvalidInputError, match="label must be"):
        recognizer.explain(skimage.data.coffee(), label="  ")
    with pytest.raises(InvalidInputError, match="not an image"):
        recognizer.explain(b"GIF89a broken")


def test_explain_a_classifier_you_trained(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "photos", {"cat": 12, "coffee": 12, "rocket": 12})
    report = recognizer.train_classifier(root, epochs=15, name="explain-photos")
    for corner in ("top-left", "bottom-right"):
        seen = recognizer.explain(cat_in_corner(corner), model=report.model_id, label="cat")
        assert seen.label == "cat" and {p.label for p in seen.predictions} == {"cat", "coffee", "rocket"}
        assert seen.heatmap.shape == (7, 7) and seen.heatmap.max() == pytest.approx(1)
        top_left, bottom_right = half_masses(seen.heatmap)
        assert (top_left if corner == "top-left" else bottom_right) > 0.5, (corner, top_left, bottom_right)


def test_explain_a_small_cnn_you_trained(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "shapes", {"ring": 30, "cross": 30}, offset=300)
    report = recognizer.train_classifier(root, epochs=4, method="cnn", name="explain-cnn")
    image = root / "cross" / "300.png"
    seen = recognizer.explain(image, model=report.model_id)
    assert seen.label in {"ring", "cross"} and seen.heatmap.shape == (7, 7)
    assert seen.box == (0.0, 0.0, 1.0, 1.0)  # the CNN sees the whole (squeezed) image
    assert seen.overlay.size == Image.open(image).size


def test_overlay_colours_where_the_map_is_hot_and_dims_what_was_not_seen():
    grey = Image.new("RGB", (200, 100), (120, 120, 120))
    heat = np.zeros((7, 7), np.float32)
    heat[:2, :2] = 1.0
    out = np.asarray(heatmap_overlay(grey, heat, box=(0.25, 0.0, 0.75, 1.0)), dtype=int)
    assert out.shape == (100, 200, 3)
    assert out[5, 55, 0] - out[5, 55, 2] > 50  # hot corner of the box: red over the grey
    assert out[95, 145, 2] - out[95, 145, 0] > 10  # cold corner: a blue tint
    assert (out[:, :45] == round(120 * 0.45)).all() and (out[:, 155:] == round(120 * 0.45)).all()
    big = heatmap_overlay(Image.new("RGB", (3000, 1500)), heat)
    assert max(big.size) == 640  # shrunk for display


def test_page_toggle_shows_and_hides_the_overlay(manager, photos):
    from apps.vision import ui

    photo = str(photos["chelsea"])
    shown = ui.explain(photo, 3, "imagenet", True)
    assert shown["visible"] is True and isinstance(shown["value"], Image.Image)
    assert "What the model looked at for" in shown["label"]
    assert ui.explain(photo, 3, "imagenet", False)["visible"] is False
    assert ui.explain(None, 3, "imagenet", True)["visible"] is False
