"""Paper-style matplotlib figures: one column wide (3.3 in), legible fonts, saved as PDF and PNG."""

from __future__ import annotations

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
    """A figure at paper column width; `aspect` is the height of one panel over its width."""
    plt.rcParams.update(PAPER_RC)
    panel_w = width_in / ncols
    return plt.subplots(nrows, ncols, figsize=(width_in, panel_w * aspect * nrows), squeeze=False)


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
