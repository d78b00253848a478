"""The pages' matplotlib charts: confusion matrix, training curves, horizontal bars.

Figures are made with ``matplotlib.figure.Figure``, not ``pyplot``: pyplot keeps every
figure it makes until it is closed, which on a long-running server is a leak, while
a bare ``Figure`` is an ordinary object that goes when the page is done with it.
``gr.Plot`` renders one like any other (``Figure.savefig``), and nothing needs closing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure

ACCENT = "#4f46e5"
_CJK_FAMILY = "Noto Sans CJK SC"


def _use_cjk_fallback() -> None:
    """Let charts draw Chinese (titles and axes in the viewer's language): DejaVu Sans first,
    then Noto Sans CJK (Debian's fonts-noto-cjk) for the glyphs it lacks. Matplotlib's font
    cache may predate the CJK package, so its file is added by hand when it is not known."""
    if not any(f.name == _CJK_FAMILY for f in font_manager.fontManager.ttflist):
        for path in sorted(Path("/usr/share/fonts").glob("**/NotoSansCJK-Regular.tt[cf]"))[:1]:
            font_manager.fontManager.addfont(str(path))
    if any(f.name == _CJK_FAMILY for f in font_manager.fontManager.ttflist):
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", _CJK_FAMILY]


_use_cjk_fallback()

Series = tuple[Sequence[float], Sequence[float]]  # (x values, y values)


def confusion_figure(
    confusion: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    *,
    title: str = "Confusion matrix",
    what: str = "class",
    max_labelled: int = 40,
    max_counted: int = 20,
) -> Figure:
    """A confusion matrix, true ``what`` down, predicted across.

    Cells are coloured by their share of the true class (so a rare class reads as
    clearly as a common one) and show counts when there are at most ``max_counted``
    classes; names are shown up to ``max_labelled``. Classes neither true nor predicted
    are left out, as they are of the macro-F1 (``apps.metrics``).
    """
    matrix = np.asarray(confusion, dtype=float).reshape(len(labels), len(labels))
    keep = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    matrix = matrix[np.ix_(keep, keep)]
    names = [name for name, k in zip(labels, keep, strict=True) if k]
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    n = len(names)
    side = min(14.0, 3.5 + 0.3 * n)
    fig = Figure(figsize=(side, side * 0.85))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"share of the true {what}")
    ax.set_title(title)
    ax.set_xlabel(f"predicted {what}")
    ax.set_ylabel(f"true {what}")
    if n <= max_labelled:
        size = 8 if n <= 20 else 7
        ax.set_xticks(range(n), names, rotation=45 if n <= 20 else 90, ha="right", fontsize=size)
        ax.set_yticks(range(n), names, fontsize=size)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"predicted {what} ({n} classes, unlabelled)")
    if n <= max_counted:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return fig


def curves_figure(
    panels: Mapping[str, Mapping[str, Series]],
    *,
    xlabel: str = "epoch",
    ylims: Mapping[str, tuple[float, float]] | None = None,
    empty_message: str = "Nothing to plot yet.",
) -> Figure:
    """Line charts side by side: one panel per title, one line per named series.

    ``panels`` maps a panel's title to ``{series name: (x values, y values)}``; a panel
    with more than one series gets a legend. With no points at all the figure says
    ``empty_message`` instead.
    """
    shown = {t: {k: v for k, v in s.items() if len(v[0])} for t, s in panels.items()}
    shown = {t: s for t, s in shown.items() if s}
    if not shown:
        fig = Figure(figsize=(6, 3.2))
        ax = fig.subplots()
        ax.text(0.5, 0.5, empty_message, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    fig = Figure(figsize=(4.5 * len(shown), 3.2))
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, (title, series) in zip(axes, shown.items(), strict=True):
        for marker, (name, (xs, ys)) in zip("osd^v<>", series.items(), strict=False):
            ax.plot(list(xs), list(ys), marker=marker, label=name,
                    color=ACCENT if len(series) == 1 else None)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if ylims and title in ylims:
            ax.set_ylim(*ylims[title])
        if len(series) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bars_figure(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    percent: bool = False,
    color: str = ACCENT,
) -> Figure:
    """Horizontal bars in the given order, the first on top, each with its value written.

    Values are in [0, 1] (probabilities, F1); ``percent`` writes them as percentages.
    """
    fig = Figure(figsize=(6.5, 0.35 * max(3, len(labels)) + 1.0))
    ax = fig.subplots()
    bars = ax.barh(list(labels)[::-1], list(values)[::-1], color=color)
    for bar, value in zip(bars, list(values)[::-1], strict=True):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2,
                f"{value:.1%}" if percent else f"{value:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
