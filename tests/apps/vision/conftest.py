"""Session fixtures for the vision app: one recognizer on the session's manager, real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

from apps.vision import ImageRecognizer
from apps.vision.datasets import fashion_mnist_available
from apps.vision.examples import example_photos
from tests.support.debian import require_debian_package


@pytest.fixture(scope="session")
def fashion_mnist() -> None:
    """Debian's dataset-fashion-mnist: skipped without it here, a failure in CI."""
    require_debian_package("dataset-fashion-mnist", fashion_mnist_available(), "Fashion-MNIST training")


# Only the tests that read Fashion-MNIST itself; training from a folder never needs it.
needs_fashion_mnist = pytest.mark.usefixtures("fashion_mnist")


@pytest.fixture(scope="session")
def recognizer(manager, tmp_path_factory: pytest.TempPathFactory) -> ImageRecognizer:
    return ImageRecognizer(manager, data_dir=tmp_path_factory.mktemp("vision"))


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-image's photos as PNG files: chelsea, coffee, rocket, astronaut, motorcycle."""
    return {Path(k).stem: v for k, v in example_photos(tmp_path_factory.mktemp("photos")).items()}


# Labelled photo folders for training, written at run time (nothing committed):
# - photo classes are random square crops (60-95% of the short side, half of them mirrored)
#   of one scikit-image photo each, for the transfer-learning head;
# - shape classes are drawn light shapes on a dark, noisy background, 28 x 28-friendly like
#   Fashion-MNIST, for the small CNN trained from scratch (which does not learn photo crops
#   in a few epochs).
PHOTO_CLASSES = {"cat": "chelsea", "coffee": "coffee", "rocket": "rocket", "astronaut": "astronaut"}
SHAPE_CLASSES = ("ring", "cross")
_SEEDS = {name: n for n, name in enumerate((*PHOTO_CLASSES, *SHAPE_CLASSES))}


def _photo_crop(photo: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    w, h = photo.size
    side = int(min(w, h) * rng.uniform(0.6, 0.95))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = photo.crop((x, y, x + side, y + side)).resize((size, size))
    return crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


def _shape(kind: str, rng: np.random.Generator, size: int) -> Image.Image:
    img = Image.new("L", (size, size), int(rng.integers(0, 40)))
    draw = ImageDraw.Draw(img)
    cx, cy = size / 2 + rng.uniform(-size / 10, size / 10, 2)
    r, t, fill = rng.uniform(0.22, 0.34) * size, size / 20, int(rng.integers(180, 256))
    if kind == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, round(t * 1.3)))
    else:  # cross
        draw.rectangle((cx - r, cy - t, cx + r, cy + t), fill=fill)
        draw.rectangle((cx - t, cy - r, cx + t, cy + r), fill=fill)
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 8, (size, size))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB")


def write_image_folder(root: Path, classes: dict[str, int], offset: int = 0, size: int = 64) -> Path:
    """A training folder ``root/<class>/<i>.png`` of {class name: count} generated images.

    Class names come from ``PHOTO_CLASSES`` or ``SHAPE_CLASSES``. Image ``i`` of a class is
    the same on every run; folders written with offsets ``count`` apart share no image.
    """
    for name, count in classes.items():
        photo = Image.fromarray(getattr(skimage.data, PHOTO_CLASSES[name])()) if name in PHOTO_CLASSES else None
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(offset, offset + count):
            rng = np.random.default_rng([_SEEDS[name], i])
            image = _photo_crop(photo, rng, size) if photo is not None else _shape(name, rng, size)
            image.save(folder / f"{i}.png")
    return root
