"""Boxes and heatmaps drawn on images (the page's charts are the page toolkit's, ``apps.ui_kit``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared_models.types.vision import Detection

PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#42d4f4", "#f032e6", "#9a6324", "#800000", "#000075",
)  # fmt: skip


def label_colour(label: str) -> str:
    """The same colour for the same label on every image."""
    return PALETTE[hashlib.md5(label.encode()).digest()[0] % len(PALETTE)]


def draw_detections(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of ``image`` with a box and a ``label score`` tag per detection."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(out.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(out.size) / 45)))
    for det in detections:
        colour = label_colour(det.label)
        x0, y0, x1, y1 = det.box
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        text = f"{det.label} {det.score:.2f}"
        left, top, right, bottom = draw.textbbox((x0, y0), text, font=font)
        lift = bottom - top + 2 * width
        ty = y0 - lift if y0 - lift >= 0 else y0  # tag above the box, or inside at the top
        draw.rectangle((x0, ty, x0 + right - left + 2 * width, ty + lift), fill=colour)
        draw.text((x0 + width, ty + width), text, fill="white", font=font)
    return out


HEATMAP_ALPHA = 0.5  # how much colour covers the photo where the model looked most
OUTSIDE_DIM = 0.45  # brightness kept outside the part of the image the model saw
OVERLAY_MAX_SIDE = 640  # the overlay is for looking at, not for measuring


def heatmap_overlay(
    image: Image.Image,
    heatmap: np.ndarray,
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
    colormap: str = "jet",
) -> Image.Image:
    """``image`` with ``heatmap`` (values in [0, 1]) blended over the part ``box`` it covers.

    ``box`` is (left, top, right, bottom) as fractions of the image (the model's centre
    crop); outside it the photo is dimmed, since the model never saw it. The colour's
    opacity follows the heat, so the photo stays visible where the model did not look.
    """
    from matplotlib import colormaps

    out = image.convert("RGB")
    if max(out.size) > OVERLAY_MAX_SIDE:
        out = out.copy()
        out.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    w, h = out.size
    x0, y0 = round(box[0] * w), round(box[1] * h)
    x1, y1 = max(x0 + 1, round(box[2] * w)), max(y0 + 1, round(box[3] * h))
    heat = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    heat = np.clip(np.asarray(heat.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)), 0, 1)
    colour = colormaps[colormap](heat)[..., :3] * 255.0
    pixels = np.asarray(out, dtype=np.float32) * OUTSIDE_DIM
    seen = np.asarray(out, dtype=np.float32)[y0:y1, x0:x1]
    alpha = (HEATMAP_ALPHA * (0.3 + 0.7 * heat))[..., None]
    pixels[y0:y1, x0:x1] = seen * (1 - alpha) + colour * alpha
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
