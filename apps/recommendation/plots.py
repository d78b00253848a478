"""Matplotlib figures for the page: loss curves and metrics against the baselines."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # never open a window; figures go to the page

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def loss_figure(curves: pd.DataFrame):
    """Training loss per epoch, one line per model that has epochs."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if curves.empty:
        ax.text(0.5, 0.5, "Closed-form and count models have no loss curve;\ntrain bpr or hybrid to see one.",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    for model, group in curves.groupby("model", sort=False):
        ax.plot(group["epoch"], group["loss"], marker=".", label=model)
    if not curves.empty:
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def metrics_figure(chart: pd.DataFrame, k: int):
    """Grouped bars: each metric at k, one bar per model."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    metrics = list(dict.fromkeys(chart["metric"]))
    models = list(dict.fromkeys(chart["model"]))
    width = 0.8 / max(1, len(models))
    x = np.arange(len(metrics))
    for n, model in enumerate(models):
        values = [chart[(chart.model == model) & (chart.metric == m)]["value"].iloc[0] for m in metrics]
        ax.bar(x + n * width - 0.4 + width / 2, values, width, label=model)
    ax.set_xticks(x, [f"{m}@{k}" for m in metrics])
    ax.set_ylabel("score (higher is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig
