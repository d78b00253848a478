"""Session fixtures for the vision app: one recognizer on the session's manager, real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.vision import ImageRecognizer
from apps.vision.datasets import FASHION_MNIST_CLASSES, fashion_mnist_available, load_fashion_mnist
from apps.vision.examples import example_photos

needs_fashion_mnist = pytest.mark.skipif(
    not fashion_mnist_available(), reason="apt-get install dataset-fashion-mnist"
)


@pytest.fixture(scope="session")
def recognizer(manager, tmp_path_factory: pytest.TempPathFactory) -> ImageRecognizer:
    return ImageRecognizer(manager, data_dir=tmp_path_factory.mktemp("vision"))


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-image's photos as PNG files: chelsea, coffee, rocket, astronaut, motorcycle."""
    return {Path(k).stem: v for k, v in example_photos(tmp_path_factory.mktemp("photos")).items()}


def write_fashion_folder(root: Path, classes: dict[int, int], offset: int = 0) -> Path:
    """Real Fashion-MNIST test images as PNGs in class folders: {class index: count}."""
    test = load_fashion_mnist("test")
    for c, count in classes.items():
        folder = root / FASHION_MNIST_CLASSES[c].replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(test.labels == c)[offset : offset + count]
        for i in idx:
            Image.fromarray(test.images[i]).resize((64, 64)).save(folder / f"{i}.png")
    return root
