"""Paper-style matplotlib figures: one column wide (3.3 in), legible fonts, saved as PDF and PNG."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from twinarch.core.io import FIGURE_SUFFIXES, atomic_path  # noqa: E402

COLUMN_WIDTH_IN = 3.3
# Encoder and decoder colours stay fixed across every figure so readers can match them.
ARM_COLORS = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f")

PAPER_RC: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "savefig.dpi": 300,
    "pdf.fonttype": 42,
}


def new_figure(ncols: int = 1, nrows: int = 1, width_in: float = COLUMN_WIDTH_IN, aspect: float = 0.75):
    """A figure at paper column width; `aspect` is the height of one panel over its width.

    Constrained layout makes room for titles, axis labels and legends placed `outside` the panels
    (see `figure_legend`), so none of them sits on another whatever the labels' lengths.
    """
    plt.rcParams.update(PAPER_RC)
    panel_w = width_in / ncols
    return plt.subplots(nrows, ncols, figsize=(width_in, panel_w * aspect * nrows), squeeze=False, layout="constrained")


def figure_legend(fig: Any, axes: Iterable[Any], where: str = "lower") -> Any:
    """One legend for the whole figure, outside the panels (`where`: "lower" below the x-axis labels,
    "upper" above the titles), each label once in the order first drawn, in as many columns as fit
    in the figure's width (one column at least); the figure grows by the legend's height. Returns the
    legend, or None without labels.

    Outside, never on a panel: the figures are drawn from results the code has not seen, and a
    legend that is clear of the lines on one run can cover them on the next.
    """
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        return None
    ncol = len(entries)
    while True:
        legend = fig.legend(
            list(entries.values()), list(entries), loc=f"outside {where} center", ncol=ncol, frameon=False
        )
        extent = legend.get_window_extent()
        if ncol == 1 or extent.width <= fig.bbox.width:
            # The legend adds its height to the figure instead of taking it from the panels.
            fig.set_figheight(fig.get_figheight() + extent.height / fig.dpi)
            return legend
        legend.remove()
        ncol -= 1


def save_figure(fig: Any, prefix: str | Path) -> list[Path]:
    """Save `<prefix>.pdf` and `<prefix>.png` atomically, close the figure, return the paths."""
    prefix = Path(prefix)
    paths = []
    for suffix in FIGURE_SUFFIXES:
        path = prefix.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."))
        paths.append(path)
    plt.close(fig)
    return paths


def arm_color(index: int) -> str:
    return ARM_COLORS[index % len(ARM_COLORS)]
