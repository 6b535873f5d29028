"""The ladder's figure and tables: Ettin's two questions asked of Table 1 and the validation losses.

(a) Does the encoder lead at every size? `plot_ladder`: Table 1's average (with its 95% interval)
against non-embedding parameters, log-scale x, one line per model kind (the native encoder and
decoder, and each cross-objective kind the config trains); `write_ladder_table`: the same arms on
every Table 1 column. (b) Does continued training with the other objective reach the native model?
`write_cross_objective_tables`: per size, the native encoder, decoder -> MLM, native decoder and
encoder -> CLM on Table 1's columns and on both objectives' validation losses.

Inputs: Table 1's numbers as `twinarch.evaluate.table1.make_table1` writes them (the stats JSON:
stage -> arm -> column -> {mean, low, high, per_seed}, x100), `results/ladder/param_counts.csv`
(each arm's family and non-embedding parameters), the loss files of twinarch.ladder.losses, and the
ladder's arms as the rules describe them ({name, display_name, size, role}).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter

from twinarch.core.io import DataError, read_json, read_records
from twinarch.core.plotting import arm_color, figure_legend, new_figure, save_figure
from twinarch.core.tables import write_table
from twinarch.evaluate.config import TABLE1_STAGE
from twinarch.evaluate.table1 import AVG
from twinarch.ladder.config import CROSS_ROLES, ROLE_FAMILIES, ROLE_LABELS

ROLE_ORDER = list(ROLE_LABELS)
# Indices into twinarch.core.plotting's colours: the encoder's and the decoder's of the paper's figures.
FAMILY_COLORS = {"modernbert": 0, "llama": 1}
MODEL, KIND, PARAMS = "Model", "Objective", "Non-embedding params (M)"
MLM_LOSS, CLM_LOSS = "MLM loss", "CLM loss"
LOSS_KEYS = ("arm", "seed", "mlm_loss", "clm_loss")
# The log x axis reaches this factor beyond the smallest and the largest rung.
X_MARGIN = 1.6


def read_ladder(
    stats_path: str | Path, param_counts_path: str | Path, arms: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per ladder arm: its name, display name, size, role, family, non-embedding
    parameters, and `columns` (Table 1's cells as {mean, low, high}); refuses an arm that Table 1
    or the parameter counts lack, or whose family is not its role's."""
    stats = read_json(stats_path)
    if TABLE1_STAGE not in stats:
        raise DataError(f"{stats_path}: no Table 1 numbers of stage '{TABLE1_STAGE}'")
    cells = stats[TABLE1_STAGE]
    counts = pd.read_csv(param_counts_path).set_index("arm")
    rows = []
    for arm in arms:
        name = arm["name"]
        if name not in cells:
            raise DataError(f"{stats_path}: arm '{name}' has no Table 1 numbers (stage '{TABLE1_STAGE}')")
        if name not in counts.index:
            raise DataError(f"{param_counts_path}: no parameter count of arm '{name}'")
        family = str(counts.at[name, "family"])
        if family != ROLE_FAMILIES[arm["role"]]:
            raise DataError(f"{param_counts_path}: arm '{name}' is a {family}, but a {ROLE_LABELS[arm['role']]} model")
        rows.append(
            {
                **{k: arm[k] for k in ("name", "display_name", "size", "role")},
                "family": family,
                "non_embedding_params": int(counts.at[name, "non_embedding_params"]),
                "columns": cells[name],
            }
        )
    return pd.DataFrame(rows)


def _cell(row: pd.Series, column: str) -> Mapping[str, float] | None:
    return row["columns"].get(column)


def _value(row: pd.Series, column: str) -> float:
    cell = _cell(row, column)
    return math.nan if cell is None else float(cell["mean"])


def _interval(row: pd.Series, column: str) -> tuple[float, float] | None:
    cell = _cell(row, column)
    return None if cell is None else (float(cell["low"]), float(cell["high"]))


def table1_columns(frame: pd.DataFrame) -> list[str]:
    """Table 1's columns in its order (averages, then categories)."""
    return list(frame.iloc[0]["columns"])


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by model kind (native encoder, decoder -> MLM, native decoder, encoder -> CLM), then size."""
    rank = frame["role"].map(ROLE_ORDER.index)
    return frame.assign(_rank=rank).sort_values(["_rank", "non_embedding_params"]).drop(columns="_rank")


def parameter_label(count: float, position: int | None = None) -> str:
    """A parameter count as the ladder's size names write it: 17M, 400M, 1.0B; two significant
    digits under ten million (CPU ladders: 0.082M, 0.66M, 1.8M)."""
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.0f}M" if count >= 1e7 else f"{count / 1e6:.2g}M"


def plot_ladder(frame: pd.DataFrame, prefix: str | Path, column: str = AVG) -> list[Path]:
    """Table 1's `column` (mean over seeds, 95% interval as error bars) against non-embedding
    parameters on a log axis, ticked at the ladder's sizes; one line per model kind in its family's
    colour (the encoder's and the decoder's of every figure), cross-objective kinds dashed."""
    fig, axes = new_figure(aspect=0.8)
    ax = axes[0][0]
    for index, (role, points) in enumerate(ordered(frame).groupby("role", sort=False)):
        means = [_value(r, column) for _, r in points.iterrows()]
        spans = [_interval(r, column) or (m, m) for (_, r), m in zip(points.iterrows(), means, strict=True)]
        errors = [
            [m - s[0] for m, s in zip(means, spans, strict=True)],
            [s[1] - m for m, s in zip(means, spans, strict=True)],
        ]
        cross = role in CROSS_ROLES.values()
        ax.errorbar(
            points["non_embedding_params"],
            means,
            yerr=errors,
            label=ROLE_LABELS[role],
            color=arm_color(FAMILY_COLORS[ROLE_FAMILIES[role]]),
            linestyle="--" if cross else "-",
            marker="s" if cross else "o",
            markerfacecolor="white" if cross else None,
            capsize=2,
            zorder=3 + index,
        )
    ax.set_xscale("log")
    # One tick per size (its models' counts differ a little between the families), and the same
    # margin (a factor) either side, so that a one-rung ladder (the demo's) sits in the middle.
    ticks = sorted(frame.groupby("size")["non_embedding_params"].mean())
    ax.set_xticks(ticks)
    ax.set_xlim(ticks[0] / X_MARGIN, ticks[-1] * X_MARGIN)
    ax.xaxis.set_major_formatter(FuncFormatter(parameter_label))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("non-embedding parameters")
    ax.set_ylabel(f"Table 1 {column} (x100)")
    ax.grid(alpha=0.3, which="both")
    figure_legend(fig, [ax], "lower")
    return save_figure(fig, prefix)


def _score_frame(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, dict[str, list]]:
    table = pd.DataFrame(
        {
            MODEL: list(frame["display_name"]),
            KIND: [ROLE_LABELS[r] for r in frame["role"]],
            **{c: [_value(r, c) for _, r in frame.iterrows()] for c in columns},
        }
    )
    intervals = {c: [_interval(r, c) for _, r in frame.iterrows()] for c in columns}
    return table, intervals


def write_ladder_table(frame: pd.DataFrame, prefix: str | Path, scale: str) -> list[Path]:
    """Every ladder arm on every Table 1 column with its interval, by kind then size."""
    frame = ordered(frame)
    columns = table1_columns(frame)
    table, intervals = _score_frame(frame, columns)
    table.insert(2, PARAMS, [n / 1e6 for n in frame["non_embedding_params"]])
    return write_table(
        table,
        prefix,
        caption=f"The size ladder on Table 1's columns ({scale} scale, x100).",
        notes=[
            "Cells: Table 1's mean over replicate seeds with its 95% bootstrap interval; Non-embedding params: "
            "the backbone without token embeddings (results/ladder/param_counts.csv)."
        ],
        intervals=intervals,
    )


def read_losses(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The loss files of twinarch.ladder.losses, one row per (arm, seed)."""
    return pd.DataFrame(read_records(paths, LOSS_KEYS, "validation-loss JSON"))


def write_cross_objective_tables(
    frame: pd.DataFrame, losses: pd.DataFrame, prefixes: Mapping[str, str | Path], scale: str, mlm_probability: float
) -> list[Path]:
    """One table per size of `prefixes` (size -> output prefix): its four models on Table 1's
    columns (best in bold) and on both validation losses (mean over the replicate seeds; lowest in
    bold)."""
    columns = table1_columns(frame)
    mean_losses = losses.groupby("arm")[["mlm_loss", "clm_loss"]].mean()
    seeds = losses.groupby("arm")["seed"].nunique()
    paths: list[Path] = []
    for size, prefix in prefixes.items():
        rows = ordered(frame[frame["size"] == size])
        if rows.empty:
            raise DataError(f"no ladder arm of size '{size}'")
        missing = sorted(set(rows["name"]) - set(mean_losses.index))
        if missing:
            raise DataError(f"no validation losses of arms {missing} (size {size})")
        table, intervals = _score_frame(rows, columns)
        table[MLM_LOSS] = [mean_losses.at[a, "mlm_loss"] for a in rows["name"]]
        table[CLM_LOSS] = [mean_losses.at[a, "clm_loss"] for a in rows["name"]]
        counts = sorted({int(seeds[a]) for a in rows["name"]})
        paths += write_table(
            table,
            prefix,
            bold_max=columns,
            bold_min=[MLM_LOSS, CLM_LOSS],
            digits=2,
            caption=f"Native and cross-objective models at size {size} ({scale} scale, Table 1 x100).",
            notes=[
                "Table 1 cells: mean over replicate seeds with the 95% bootstrap interval. Decoder → MLM: the "
                "native decoder trained further with MLM, bidirectional; Encoder → CLM: the native encoder "
                "trained further with CLM under a causal mask (Ettin's cross-objective training).",
                f"Losses on the validation blocks, mean over {'/'.join(map(str, counts))} replicate seed(s): "
                f"MLM with {mlm_probability:.0%} of tokens masked, scored at the masked positions with "
                "bidirectional attention; CLM, the next token from causal states, every position but the last.",
            ],
            intervals=intervals,
        )
    return paths


def make_ladder_figure(
    stats_path: str | Path, param_counts_path: str | Path, arms: Sequence[Mapping[str, Any]], prefix: str | Path
) -> list[Path]:
    """results/figures/ladder.{pdf,png} from Table 1's numbers and the parameter counts."""
    return plot_ladder(read_ladder(stats_path, param_counts_path, arms), prefix)


def make_ladder_tables(
    stats_path: str | Path,
    param_counts_path: str | Path,
    loss_paths: Iterable[str | Path],
    arms: Sequence[Mapping[str, Any]],
    ladder_prefix: str | Path,
    cross_prefixes: Mapping[str, str | Path],
    scale: str,
    mlm_probability: float,
) -> list[Path]:
    """The ladder table and one cross-objective table per size that has a cross-objective model."""
    frame = read_ladder(stats_path, param_counts_path, arms)
    paths = write_ladder_table(frame, ladder_prefix, scale)
    if cross_prefixes:
        paths += write_cross_objective_tables(frame, read_losses(loss_paths), cross_prefixes, scale, mlm_probability)
    return paths
