"""Figures for the intents tab: confusion matrix and per-intent F1."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_figure(result: dict, max_labelled: int = 40):
    """Row-normalised confusion matrix (true intent down, predicted across)."""
    confusion = np.asarray(result["confusion"], dtype=float)
    labels = result["labels"]
    present = confusion.sum(axis=1) > 0
    keep = present | (confusion.sum(axis=0) > 0)
    confusion, labels = (
        confusion[np.ix_(keep, keep)],
        [lab for lab, k in zip(labels, keep, strict=True) if k],
    )
    rows = confusion.sum(axis=1, keepdims=True)
    norm = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    n = len(labels)
    size = min(14, 4 + 0.14 * n)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true intent")
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title(
        f"Confusion matrix: accuracy {result['accuracy']:.1%}, macro-F1 {result['macro_f1']:.3f}"
    )
    if n <= max_labelled:
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    if confusion[i, j]:
                        ax.text(
                            j,
                            i,
                            int(confusion[i, j]),
                            ha="center",
                            va="center",
                            color="white" if norm[i, j] > 0.5 else "black",
                            fontsize=8,
                        )
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"predicted intent ({n} intents, unlabelled; see the worst-intents chart)")
    fig.tight_layout()
    return fig


def worst_intents_figure(result: dict, count: int = 15):
    """Horizontal bars of the intents with the lowest F1."""
    f1 = sorted(result["per_intent_f1"].items(), key=lambda kv: kv[1])[:count]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(f1) + 1.2))
    ax.barh([k for k, _ in f1][::-1], [v for _, v in f1][::-1], color="#d9822b")
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title(f"The {len(f1)} hardest intents")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
