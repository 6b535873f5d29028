"""Table 2 (throughput, memory and speedup at one reference cell) and Figures 3-4 (throughput and
memory against batch size, one panel per sequence length) from the per-arm profile CSVs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from twinarch.core.io import DataError
from twinarch.core.plotting import COLUMN_WIDTH_IN, arm_color, figure_legend, new_figure, save_figure
from twinarch.core.tables import write_table
from twinarch.profile.config import REPORTED_COLUMNS

# Figures 3-4 span both columns of the paper when they have several panels.
TWO_COLUMN_WIDTH_IN = 2 * COLUMN_WIDTH_IN + 0.3


def read_profiles(paths: Iterable[str | Path], display_names: Mapping[str, str]) -> pd.DataFrame:
    """Concatenate per-arm profile CSVs in the config's arm order (the order of `display_names`,
    which also gives each arm the name the table and figures print); a missing column names the
    file."""
    arm_order = list(display_names)
    frames = []
    for path in paths:
        frame = pd.read_csv(path)
        missing = [c for c in REPORTED_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: profile CSV lacks columns {missing}")
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(rows["arm"]) - set(arm_order))
    if unknown:
        raise DataError(f"profile rows of arms {unknown} that the config does not list ({list(arm_order)})")
    rows["display_name"] = rows["arm"].map(dict(display_names))
    rows["arm"] = pd.Categorical(rows["arm"], categories=arm_order, ordered=True)
    return rows.sort_values(["arm", "mode", "seq_len", "batch_size"]).reset_index(drop=True)


def table2_frame(rows: pd.DataFrame, *, mode: str, seq_len: int, batch_size: int, baseline_arm: str) -> pd.DataFrame:
    """One line per arm at the reference cell; speedup is throughput over the baseline arm's."""
    cell = rows[(rows["mode"] == mode) & (rows["seq_len"] == seq_len) & (rows["batch_size"] == batch_size)]
    missing = sorted(set(rows["arm"].cat.categories) - set(cell["arm"].astype(str)))
    if missing:
        raise DataError(f"no profile row at mode {mode}, length {seq_len}, batch {batch_size} for arms {missing}")
    ok = cell["status"] == "ok"
    throughput = cell["samples_per_s"].where(ok)
    baseline = throughput[cell["arm"] == baseline_arm]
    base_value = float(baseline.iloc[0]) if len(baseline) else float("nan")
    return pd.DataFrame(
        {
            "Model": cell["display_name"].to_list(),
            "Throughput (samples/s)": throughput.to_list(),
            "low": cell["samples_per_s_low"].where(ok).to_list(),
            "high": cell["samples_per_s_high"].where(ok).to_list(),
            "Memory (MB)": cell["peak_memory_mb"].where(ok).to_list(),
            f"Speedup vs {baseline_arm}": (throughput / base_value).to_list(),
        }
    )


def write_table2(
    rows: pd.DataFrame, prefix: str | Path, *, mode: str, seq_len: int, batch_size: int, baseline_arm: str, note: str
) -> list[Path]:
    frame = table2_frame(rows, mode=mode, seq_len=seq_len, batch_size=batch_size, baseline_arm=baseline_arm)
    spread = list(zip(frame.pop("low"), frame.pop("high"), strict=True))
    speedup = f"Speedup vs {baseline_arm}"
    # The baseline's own 1.00x is the reference, not a result: the speedup column is bolded only when
    # another arm beats the baseline, and its maximum is then that arm's.
    bold_max = ["Throughput (samples/s)", *([speedup] if (frame[speedup] > 1.0).any() else [])]
    first = rows.iloc[0]
    caption = (
        f"Inference throughput and peak memory at sequence length {seq_len}, batch size {batch_size} "
        f"({mode} timing; {first['device_name']}, {first['dtype']}, {first['attn_implementation']} attention)."
    )
    notes = [
        f"Timing '{mode}': "
        + (
            "end to end from strings, tokenisation included."
            if mode == "encode"
            else "model forward alone on pre-tokenised inputs."
        )
        + f" Memory: {first['memory_measure']} in MB (2^20 bytes). Out-of-memory cells show '–'."
        + f" Throughput: the median batch time over {int(first['rounds'])} rounds of the whole grid, [the slowest"
        " round's median, the fastest round's].",
    ]
    if note:
        notes.append(note)
    return write_table(
        frame,
        prefix,
        bold_max=bold_max,
        bold_min=["Memory (MB)"],
        digits=2,
        caption=caption,
        notes=notes,
        intervals={"Throughput (samples/s)": spread},
    )


def plot_against_batch_size(
    rows: pd.DataFrame, prefix: str | Path, *, mode: str, column: str, ylabel: str
) -> list[Path]:
    """One panel per sequence length, one line per arm; encoders solid, decoders dashed.

    Out-of-memory cells have no point, so a line ends where its arm ran out of memory.
    """
    rows = rows[rows["mode"] == mode]
    if rows.empty:
        raise DataError(f"no profile rows of mode '{mode}'")
    seq_lens = sorted(rows["seq_len"].unique())
    width = COLUMN_WIDTH_IN if len(seq_lens) == 1 else TWO_COLUMN_WIDTH_IN
    fig, axes = new_figure(ncols=len(seq_lens), width_in=width, aspect=0.85)
    arms = list(rows["arm"].cat.categories)
    for ax, seq_len in zip(axes[0], seq_lens):
        panel = rows[rows["seq_len"] == seq_len]
        for index, arm in enumerate(arms):
            line = panel[(panel["arm"] == arm) & (panel["status"] == "ok")]
            if line.empty:
                continue
            ax.plot(
                line["batch_size"],
                line[column],
                marker="o",
                color=arm_color(index),
                linestyle="-" if line["family"].iloc[0] == "modernbert" else "--",
                label=line["display_name"].iloc[0],
            )
        ax.set_xscale("log", base=2)
        batch_sizes = sorted(panel["batch_size"].unique())
        ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
        ax.set_title(f"sequence length {seq_len}")
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    figure_legend(fig, axes[0], "upper")
    return save_figure(fig, prefix)


def plot_fig3(rows: pd.DataFrame, prefix: str | Path, *, mode: str) -> list[Path]:
    return plot_against_batch_size(rows, prefix, mode=mode, column="samples_per_s", ylabel="throughput (samples/s)")


def plot_fig4(rows: pd.DataFrame, prefix: str | Path, *, mode: str) -> list[Path]:
    return plot_against_batch_size(rows, prefix, mode=mode, column="peak_memory_mb", ylabel="peak memory (MB)")
