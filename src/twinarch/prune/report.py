"""The pruning stage's figures and table: MLP importance by layer, and the size-speed-quality trade-off.

The trade-off table has one row per arm and number of dropped MLPs k (k = 0 is the unpruned model):
non-embedding parameters, encode throughput relative to the arm's unpruned model, and the Table 1
average and retrieval score after recovery training and, when scored, right after dropping. Scores
are aggregated by Table 1's own code (`twinarch.evaluate.table1.arm_estimates` and `table_cells`:
JMTEB's metrics, the mean over replicate seeds, 95% bootstrap intervals), so they are the numbers
Table 1 would print for these models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from twinarch.core.io import DataError, read_json, read_records
from twinarch.core.plotting import arm_color, figure_legend, new_figure, save_figure
from twinarch.core.tables import write_table
from twinarch.evaluate.stats import DEFAULT_RESAMPLES, TaskEstimate, bootstrap_p
from twinarch.evaluate.table1 import AVG, SCALE, arm_estimates, interval_note, load_rows, table_cells
from twinarch.prune.config import DROPPED, RECOVERED, pruned_stage

RETRIEVAL = "Retrieval"
IMPORTANCE_KEYS = ("arm", "num_layers", "importance", "ranking")
MODEL = "Model"
K = "MLPs dropped"
PARAMS = "Non-emb. params (M)"
KEPT = "Params kept (%)"
SPEEDUP = "Encode speedup (x)"
SCORE_COLUMNS = {
    (RECOVERED, AVG): AVG,
    (RECOVERED, RETRIEVAL): RETRIEVAL,
    (DROPPED, AVG): f"{AVG}, no recovery",
    (DROPPED, RETRIEVAL): f"{RETRIEVAL}, no recovery",
}
# The recovered model's Avg minus its unpruned model's, with the paired interval and p-value.
CHANGE = f"{AVG} - unpruned"
CHANGE_P = f"p ({CHANGE})"


# ----------------------------------------------------------------------------- importance by layer


def plot_importance(paths: Iterable[str | Path], prefix: str | Path, display_names: Mapping[str, str]) -> list[Path]:
    """1 - cos(stream before, after the MLP) by layer, one line per arm (config order): the mean over
    the replicate seeds, their range shaded. The k least important MLPs are the lowest points."""
    records = read_records(paths, IMPORTANCE_KEYS, "importance JSON")
    fig, axes = new_figure()
    ax = axes[0][0]
    for index, (arm, name) in enumerate(display_names.items()):
        curves = np.array([r["importance"] for r in records if r["arm"] == arm])
        if not len(curves):
            continue
        layers = np.arange(curves.shape[1])
        ax.plot(layers, curves.mean(axis=0), marker="o", color=arm_color(index), label=name)
        if len(curves) > 1:
            ax.fill_between(layers, curves.min(axis=0), curves.max(axis=0), color=arm_color(index), alpha=0.2, lw=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel(r"MLP importance $1 - \cos(x, x + \mathrm{MLP}(x))$")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    figure_legend(fig, [ax])
    return save_figure(fig, prefix)


# ----------------------------------------------------------------------------- the trade-off


def stage_cells(rows: pd.DataFrame, stage: str, n_resamples: int, seed: int) -> dict[str, dict[str, Any]]:
    """Table 1's cells (arm -> column -> estimate over seeds, or None) of the models scored as `stage`."""
    estimates, _ = arm_estimates(rows, stage, n_resamples, seed)
    return table_cells(estimates, dict(zip(rows["task"], rows["category"], strict=True)))


def tradeoff_frame(
    rows: pd.DataFrame,
    manifests: Sequence[Mapping[str, Any]],
    speeds: pd.DataFrame,
    *,
    from_stage: str,
    ks: Sequence[int],
    variants: Sequence[str],
    display_names: Mapping[str, str],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, list[tuple[float, float] | None]]]:
    """One row per (arm, k), arms in `display_names` order, k = 0 (the unpruned model) first; and the
    95% intervals of its score columns (x100), row by row."""
    cells: dict[str, dict[str, dict[str, Any]]] = {}  # stage -> Table 1's cells, computed once each
    table, intervals = [], {}
    for arm, name in display_names.items():
        dropped = {int(m["k"]): m for m in manifests if m["arm"] == arm}
        missing = sorted(set(ks) - set(dropped))
        if missing:
            raise DataError(f"arm '{arm}' has no pruned model for k = {missing}")
        full_params = dropped[ks[0]]["non_embedding_params_before"]
        speed = speeds[speeds["arm"] == arm].set_index("k")["samples_per_s"]
        if set(speed.index) != {0, *ks}:
            raise DataError(f"arm '{arm}': throughput measured for k = {sorted(speed.index)}, not {[0, *ks]}")
        for k in (0, *ks):
            params = dropped[k]["non_embedding_params"] if k else full_params
            entry: dict[str, Any] = {
                MODEL: name,
                K: k,
                PARAMS: params / 1e6,
                KEPT: 100.0 * params / full_params,
                SPEEDUP: float(speed[k] / speed[0]),
            }
            for variant in variants:
                stage = stage_of(from_stage, k, variant)
                if stage not in cells:
                    cells[stage] = stage_cells(rows, stage, n_resamples, seed)
                arm_cells = cells[stage].get(arm)
                if arm_cells is None:
                    raise DataError(f"arm '{arm}' has no evaluation rows as '{stage}'")
                for metric in (AVG, RETRIEVAL):
                    column, value = SCORE_COLUMNS[(variant, metric)], arm_cells.get(metric)
                    entry[column] = math.nan if value is None else SCALE * value.point
                    span = None if value is None else tuple(SCALE * x for x in value.interval())
                    intervals.setdefault(column, []).append(span)
            # Paired by construction: every model's replicates share the example and seed draws.
            unpruned, recovered = cells[from_stage][arm][AVG], cells[stage_of(from_stage, k, RECOVERED)][arm][AVG]
            change = recovered.replicates - unpruned.replicates
            entry[CHANGE] = SCALE * (recovered.point - unpruned.point)
            entry[CHANGE_P] = bootstrap_p(change) if k else math.nan
            low, high = TaskEstimate(0.0, change, ()).interval()
            intervals.setdefault(CHANGE, []).append((SCALE * low, SCALE * high) if k else None)
            table.append(entry)
    frame = pd.DataFrame(table)
    columns = [c for c in SCORE_COLUMNS.values() if c in frame]
    return frame[[MODEL, K, PARAMS, KEPT, SPEEDUP, *columns, CHANGE, CHANGE_P]], {
        c: intervals[c] for c in (*columns, CHANGE)
    }


def stage_of(from_stage: str, k: int, variant: str) -> str:
    """The evaluation stage of an arm's model with k MLPs dropped (k = 0: the unpruned one)."""
    return pruned_stage(from_stage, k, variant) if k else from_stage


def make_tradeoff_table(
    row_paths: Iterable[str | Path],
    manifest_paths: Iterable[str | Path],
    speeds_csv: str | Path,
    prefix: str | Path,
    *,
    from_stage: str,
    ks: Sequence[int],
    variants: Sequence[str],
    display_names: Mapping[str, str],
    scale: str,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[Path]:
    rows = load_rows(row_paths)
    table, intervals = tradeoff_frame(
        rows,
        [read_json(p) for p in manifest_paths],
        pd.read_csv(speeds_csv),
        from_stage=from_stage,
        ks=ks,
        variants=variants,
        display_names=display_names,
        n_resamples=n_resamples,
        seed=seed,
    )
    notes = [
        f"MLP sublayers dropped in the order of LLM-Drop's importance (least change of the residual stream "
        f"first) from each arm's '{from_stage}' model, then recovered with contrastive training.",
        f"{SPEEDUP}: encode throughput relative to the arm's unpruned model (k = 0), timed in one job.",
        f"{AVG} and {RETRIEVAL}: Table 1's mean over all datasets and its retrieval mean in JMTEB's metrics.",
        interval_note(rows, n_resamples),
        f"{CHANGE}: the recovered model's {AVG} minus the unpruned model's, with its paired 95% interval (the same "
        "resamples of seeds and examples for both) and the paired bootstrap's two-sided p.",
    ]
    # Nothing in bold: the best score of a column is always an unpruned model's, the best speed a
    # most-pruned one's; the comparison the table is for runs along each arm's rows.
    return write_table(
        table,
        prefix,
        caption=f"MLP pruning: size, speed and quality ({scale} scale).",
        notes=notes,
        intervals=intervals,
    )


def plot_tradeoff(table_csv: str | Path, prefix: str | Path) -> list[Path]:
    """Score against encode speedup, one panel per metric, one colour per arm (table order), points
    labelled `k=<MLPs dropped>` (a bare number beside a point reads as a score), with their 95%
    intervals; solid after recovery, dashed with open markers right after dropping."""
    table = pd.read_csv(table_csv)
    metrics = [m for m in (AVG, RETRIEVAL) if table[m].notna().any()]
    fig, axes = new_figure(ncols=len(metrics), aspect=1.0)
    for ax, metric in zip(axes[0], metrics):
        unrecovered = f"{metric}, no recovery"
        for index, (name, group) in enumerate(table.groupby(MODEL, sort=False)):
            color = arm_color(index)
            spread = (group[metric] - group[f"{metric} low"], group[f"{metric} high"] - group[metric])
            ax.errorbar(group[SPEEDUP], group[metric], yerr=spread, marker="o", color=color, capsize=2, label=name)
            if unrecovered in group:
                ax.plot(group[SPEEDUP], group[unrecovered], marker="o", linestyle="--", mfc="white", color=color)
            for _, point in group.iterrows():
                ax.annotate(f"k={point[K]}", (point[SPEEDUP], point[metric]), textcoords="offset points", xytext=(3, 3))
        if unrecovered in table:
            ax.plot([], [], marker="o", linestyle="--", mfc="white", color="grey", label="no recovery")
        ax.set_xlabel("encode speedup (x)")
        ax.set_ylabel(f"{metric} (x100)")
        ax.grid(alpha=0.3)
    figure_legend(fig, axes[0])
    return save_figure(fig, prefix)
