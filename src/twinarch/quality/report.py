"""Figure 2: alignment (x) against uniformity (y) for every arm, pretrain-only and fine-tuned.

Squares are fine-tuned models, circles pretrain-only ones; one colour per arm, and an arrow from an
arm's pretrain-only point to its fine-tuned one shows what contrastive training moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from twinarch.core.io import read_records
from twinarch.core.plotting import arm_color, figure_legend, new_figure, save_figure

MARKERS = {"base": "o", "ft": "s"}
STAGE_LABELS = {"base": "pretrain-only", "ft": "fine-tuned"}
OTHER_STAGE_MARKER = "^"


QUALITY_KEYS = ("arm", "seed", "estage", "alignment", "uniformity")


def read_quality(paths: Iterable[str | Path]) -> pd.DataFrame:
    return pd.DataFrame(read_records(paths, QUALITY_KEYS, "quality JSON"))


def plot_fig2(rows: pd.DataFrame, prefix: str | Path, display_names: Mapping[str, str]) -> list[Path]:
    """Every arm of `display_names` (config order, one colour each) that has measured points: each
    replicate seed as a small marker, the seed mean as a large one, an arrow from the pretrain-only
    mean to the fine-tuned mean. The small markers' spread is the seed-to-seed variation."""
    fig, axes = new_figure(aspect=0.9)
    ax = axes[0][0]
    for index, (arm, display_name) in enumerate(display_names.items()):
        points = rows[rows["arm"] == arm]
        if points.empty:
            continue
        color = arm_color(index)
        means = points.groupby("estage")[["alignment", "uniformity"]].mean()
        for estage, seed_points in points.groupby("estage"):
            marker = MARKERS.get(str(estage), OTHER_STAGE_MARKER)
            style = {"marker": marker, "color": color, "edgecolor": "black", "linewidth": 0.4, "zorder": 3}
            if len(seed_points) > 1:
                ax.scatter(seed_points["alignment"], seed_points["uniformity"], s=8, alpha=0.6, **style)
            ax.scatter(means.at[estage, "alignment"], means.at[estage, "uniformity"], s=28, **style)
        if {"base", "ft"} <= set(means.index):
            ax.annotate(
                "",
                xy=(means.at["ft", "alignment"], means.at["ft", "uniformity"]),
                xytext=(means.at["base", "alignment"], means.at["base", "uniformity"]),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 0.8, "shrinkA": 3, "shrinkB": 3},
            )
        # One legend entry per arm (colour), one per stage (marker) below.
        ax.scatter([], [], marker="o", color=color, label=display_name)
    for estage in sorted(set(rows["estage"])):
        ax.scatter(
            [],
            [],
            marker=MARKERS.get(estage, OTHER_STAGE_MARKER),
            facecolor="white",
            edgecolor="black",
            label=STAGE_LABELS.get(estage, estage),
        )
    ax.set_xlabel(r"alignment $\ell_{\mathrm{align}}$ (lower is better)")
    ax.set_ylabel(r"uniformity $\ell_{\mathrm{uniform}}$ (lower is better)")
    ax.grid(alpha=0.3)
    # Below the axes, so the figure stays one column wide.
    figure_legend(fig, [ax], "lower")
    return save_figure(fig, prefix)
