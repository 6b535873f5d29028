"""Figure 2: alignment (x) against uniformity (y) for every arm, pretrain-only and fine-tuned.

Squares are fine-tuned models, circles pretrain-only ones; one colour per arm, and an arrow from an
arm's pretrain-only point to its fine-tuned one shows what contrastive training moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from twinarch.io import DataError, read_json
from twinarch.plotting import arm_color, new_figure, save_figure

MARKERS = {"base": "o", "ft": "s"}
STAGE_LABELS = {"base": "pretrain-only", "ft": "fine-tuned"}
OTHER_STAGE_MARKER = "^"


def read_quality(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = []
    for path in paths:
        row = read_json(path)
        missing = [k for k in ("arm", "display_name", "estage", "alignment", "uniformity") if k not in row]
        if missing:
            raise DataError(f"{path}: quality JSON lacks keys {missing}")
        rows.append({k: row[k] for k in ("arm", "display_name", "estage", "alignment", "uniformity")})
    return pd.DataFrame(rows)


def plot_fig2(rows: pd.DataFrame, prefix: str | Path, arm_order: Sequence[str]) -> list[Path]:
    fig, axes = new_figure(aspect=0.9)
    ax = axes[0][0]
    for index, arm in enumerate(arm_order):
        points = rows[rows["arm"] == arm].set_index("estage")
        if points.empty:
            continue
        color = arm_color(index)
        for estage, point in points.iterrows():
            ax.scatter(
                point["alignment"],
                point["uniformity"],
                marker=MARKERS.get(str(estage), OTHER_STAGE_MARKER),
                s=28,
                color=color,
                edgecolor="black",
                linewidth=0.4,
                zorder=3,
            )
        if {"base", "ft"} <= set(points.index):
            ax.annotate(
                "",
                xy=(points.at["ft", "alignment"], points.at["ft", "uniformity"]),
                xytext=(points.at["base", "alignment"], points.at["base", "uniformity"]),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 0.8, "shrinkA": 3, "shrinkB": 3},
            )
        # One legend entry per arm (colour), one per stage (marker) below.
        ax.scatter([], [], marker="o", color=color, label=points["display_name"].iloc[0])
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
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    return save_figure(fig, prefix)
