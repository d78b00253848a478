"""Pictures for the page: boxes drawn on images, and matplotlib charts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from shared_models.types.vision import Detection, Prediction  # noqa: E402

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


def prediction_bars(predictions: Sequence[Prediction], title: str = "") -> Figure:
    """Horizontal bars of the top-k probabilities, best on top."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * max(3, len(predictions)) + 0.8))
    labels = [p.label for p in predictions][::-1]
    scores = [p.score for p in predictions][::-1]
    bars = ax.barh(labels, scores, color="#4f46e5")
    for bar, score in zip(bars, scores, strict=True):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{score:.1%}",
                va="center", fontsize=9)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("probability")
    if title:
        ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    plt.close(fig)
    return fig


def training_curves(curve: dict) -> Figure:
    """Training loss (left) and train / held-out accuracy (right) per epoch."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = curve.get("epoch", [])
    left.plot(epochs, curve.get("train_loss", []), marker="o", color="#4f46e5")
    left.set_title("training loss")
    left.set_xlabel("epoch")
    right.plot(epochs, curve.get("train_accuracy", []), marker="o", label="train")
    right.plot(epochs, curve.get("heldout_accuracy", []), marker="s", label="held-out")
    right.set_title("accuracy")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1.02)
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], class_names: Sequence[str]) -> Figure:
    """The held-out confusion matrix, true class down, predicted class across."""
    n = len(class_names)
    side = min(10, 2.5 + 0.55 * n)
    fig, ax = plt.subplots(figsize=(side, side * 0.85))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max((max(row) for row in confusion), default=0)
    if n <= 20:
        for i, row in enumerate(confusion):
            for j, v in enumerate(row):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                        color="white" if v > peak / 2 else "black")
    ax.set_title("held-out confusion matrix")
    fig.tight_layout()
    plt.close(fig)
    return fig
