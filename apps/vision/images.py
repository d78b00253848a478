"""Decoded images in the forms the vision requests carry (uint8 arrays; no torch here).

Uploads are decoded once, in the app, with ``core.images.to_rgb`` (size limits,
EXIF rotation, any mode to RGB); requests then carry plain arrays, which cross
a process boundary as they are.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from shared_models.types.vision import BACKBONE_CROP, BACKBONE_RESIZE, CNN_SIZE


def as_array(image: Image.Image) -> np.ndarray:
    """An RGB image as an (H, W, 3) uint8 array, as ``ClassifyRequest`` / ``DetectRequest`` take it."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def serving_crop(image: Image.Image) -> np.ndarray:
    """The backbone's serving crop, (224, 224, 3) uint8: bicubic resize of the shorter side to 256, centre crop.

    Pixel for pixel what torchvision's ``Resize(256, BICUBIC)`` then
    ``CenterCrop(224)`` give for a PIL image (the classification role's transform),
    so fine-tuning sees what serving sees.
    """
    resize, crop = BACKBONE_RESIZE, BACKBONE_CROP
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = resize, int(resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    if size != (w, h):
        image = image.resize(size, Image.Resampling.BICUBIC)
    w, h = image.size  # both sides >= resize >= crop: no padding case
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return as_array(image.crop((left, top, left + crop, top + crop)))


def small_grey(image: Image.Image, size: int = CNN_SIZE) -> np.ndarray:
    """A (size, size) uint8 greyscale thumbnail: the small CNN's training input."""
    return np.asarray(image.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
