"""Example images for the page, written from scikit-image's photos at run time (none committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# (file name, scikit-image loader); stereo_motorcycle returns (left, right, disparity).
PHOTOS = {
    "chelsea.png": lambda d: d.chelsea(),
    "coffee.png": lambda d: d.coffee(),
    "rocket.png": lambda d: d.rocket(),
    "astronaut.png": lambda d: d.astronaut(),
    "motorcycle.png": lambda d: d.stereo_motorcycle()[0],
}


def example_photos(folder: Path) -> dict[str, Path]:
    """The example photos as PNG files in ``folder`` (written once), by file name."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, load in PHOTOS.items():
        path = folder / name
        if not path.is_file():
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(np.asarray(load(data))).save(tmp)
            tmp.replace(path)
        out[name] = path
    return out


def fashion_mnist_examples(folder: Path, count: int = 4) -> list[Path]:
    """A few Fashion-MNIST test images as PNGs (for trying a Fashion-MNIST model), if installed."""
    from .datasets import FASHION_MNIST_CLASSES, fashion_mnist_available, load_fashion_mnist

    if not fashion_mnist_available():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("fashion-*.png"))
    if len(existing) >= count:  # written before: skip reading the dataset
        return existing[:count]
    test = load_fashion_mnist("test")
    paths = []
    for i in range(count):
        name = FASHION_MNIST_CLASSES[int(test.labels[i])].replace("/", "-").replace(" ", "-").lower()
        path = folder / f"fashion-{i}-{name}.png"
        if not path.is_file():
            Image.fromarray(test.images[i]).resize((112, 112), Image.Resampling.NEAREST).save(path)
        paths.append(path)
    return paths
