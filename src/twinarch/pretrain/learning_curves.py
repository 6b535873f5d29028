"""The pretraining learning-curve figure: validation loss against tokens, one panel per stage.

MLM and CLM losses measure different tasks, so curves of the two objectives are compared in shape
(how fast each falls on the same tokens), not in level; line styles mark the objective, and every
replicate seed has its own line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from twinarch.core.io import DataError, iter_jsonl
from twinarch.core.plotting import arm_color, figure_legend, new_figure, save_figure

OBJECTIVE_STYLE = {"mlm": "-", "clm": "--"}


def plot_learning_curves(
    metrics: Mapping[tuple[str, str, str], str | Path],
    arms: Sequence[Mapping[str, str]],
    stages: Sequence[str],
    prefix: str | Path,
) -> list[Path]:
    """`metrics[(arm, seed, stage)]` is a metrics.jsonl; `arms` are config arm entries (for names,
    order and objective). One line per replicate seed, in the arm's colour (every seed's curve is
    shown: the spread between them is the seed-to-seed variation). Writes `<prefix>.pdf` and `.png`."""
    fig, axes = new_figure(ncols=len(stages), aspect=0.9)
    for col, stage in enumerate(stages):
        ax = axes[0][col]
        for index, arm in enumerate(arms):
            runs = sorted(
                (seed, path) for (name, seed, s), path in metrics.items() if name == arm["name"] and s == stage
            )
            for _, path in runs:
                rows = list(iter_jsonl(path))
                if not rows:
                    raise DataError(f"{path}: no evaluation rows")
                ax.plot(
                    [r["tokens"] / 1e6 for r in rows],
                    [r["eval_loss"] for r in rows],
                    OBJECTIVE_STYLE.get(arm["objective"], "-"),
                    color=arm_color(index),
                    linewidth=0.9,
                    alpha=0.85,
                    label=f"{arm['display_name']} ({arm['objective'].upper()})",
                )
        ax.set_title(stage)
        ax.set_xlabel("tokens (M)")
        if col == 0:
            ax.set_ylabel("validation loss")
    # Below the x-axis labels, with every panel's arms (a stage may lack one).
    figure_legend(fig, axes[0], "lower")
    return save_figure(fig, prefix)
