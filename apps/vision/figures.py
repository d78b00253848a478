"""Boxes drawn on images for the page (its charts are the page toolkit's, ``apps.ui_kit``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

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
