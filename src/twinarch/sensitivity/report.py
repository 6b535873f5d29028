"""The sensitivity figures and table from every model's position table.

Figure 1 follows the head of the sequence: the summed sensitivity of its first `HEAD_TOKENS`
positions, raw and as a share of the whole sequence's, against the length L. Figure 2 shows where
along the sequence the pooled embedding looks: the mean normalised sensitivity (a position's
share times L, so 1 everywhere is a uniform reader) per decile of relative position, one panel
per length bin. Signed integrated-gradients attributions enter both as magnitudes; occlusion
positions sampled at long lengths enter with their weight (the positions each stands for).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from twinarch.core.io import DataError, read_json
from twinarch.core.plotting import arm_color, figure_legend, new_figure, save_figure
from twinarch.core.tables import write_table
from twinarch.profile.report import TWO_COLUMN_WIDTH_IN
from twinarch.sensitivity.config import HEAD_TOKENS, INTEGRATED_GRADIENTS, MODEL_COLUMNS, OCCLUSION

log = logging.getLogger(__name__)

MEASURES = {OCCLUSION: "occlusion (1 - cos)", INTEGRATED_GRADIENTS: "integrated gradients (|attribution|)"}
POOLING_LABELS = {"lasttoken": "last token", "mean": "mean", "cls": "CLS"}
# One marker per way of reading a sequence; colours are the arms', line styles the stages'.
MARKERS = {("bidirectional", "mean"): "o", ("causal", "mean"): "s", ("causal", "lasttoken"): "^"}
OTHER_MARKER = "D"
EARLIER_STAGE_STYLES = ("--", ":", "-.")
DECILES = 10
MAX_LENGTH_BINS = 3
NETWORK_KEYS = list(MODEL_COLUMNS)
# A network, a measure, a length and a document: the unit every share and normalisation is taken over.
SEQUENCE_KEYS = [*NETWORK_KEYS, "measure", "length", "document"]
SERIES_KEYS = [*NETWORK_KEYS, "measure"]


def read_positions(paths: Iterable[str | Path]) -> pd.DataFrame:
    frames = [pd.read_parquet(path) for path in paths]
    if not frames:
        raise DataError("no sensitivity tables to aggregate")
    return pd.concat(frames, ignore_index=True)


def read_deltas(paths: Iterable[str | Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


def check_occlusion_token(manifests: Iterable[str | Path]) -> int:
    """Every model must have been occluded with the same token id, or the comparison is void."""
    ids = {str(path): read_json(path)["occlusion_token_id"] for path in manifests}
    if not ids:
        raise DataError("no sensitivity manifests to aggregate")
    if len(set(ids.values())) != 1:
        raise DataError(f"models were occluded with different token ids: {ids}")
    return next(iter(ids.values()))


def head_influence(positions: pd.DataFrame) -> pd.DataFrame:
    """Per sequence: the head's summed |sensitivity| (`head`), the weighted total and the share."""
    frame = positions.assign(
        magnitude=positions["value"].abs(),
        weighted=positions["value"].abs() * positions["weight"],
        in_head=positions["position"] < HEAD_TOKENS,
    )
    head = frame[frame["in_head"]].groupby(SEQUENCE_KEYS)["magnitude"].sum().rename("head")
    total = frame.groupby(SEQUENCE_KEYS)["weighted"].sum().rename("total")
    out = pd.concat([head, total], axis=1).reset_index()
    out["share"] = out["head"] / out["total"]
    return out


def head_summary(positions: pd.DataFrame) -> pd.DataFrame:
    """Figure 1's points: mean head influence and share over documents, per network, measure and L."""
    sequences = head_influence(positions)
    grouped = sequences.groupby([*SERIES_KEYS, "length"])
    return grouped.agg(head=("head", "mean"), share=("share", "mean"), documents=("document", "nunique")).reset_index()


def length_bins(lengths: Sequence[int]) -> list[tuple[int, ...]]:
    """Consecutive groups of the measured lengths, at most `MAX_LENGTH_BINS` of them."""
    ordered = sorted(set(int(n) for n in lengths))
    return [tuple(int(n) for n in chunk) for chunk in np.array_split(ordered, min(MAX_LENGTH_BINS, len(ordered)))]


def decile_profile(positions: pd.DataFrame) -> pd.DataFrame:
    """Figure 2's points: mean normalised sensitivity per decile of relative position and length bin.

    A position's normalised sensitivity is L |v| / (weighted total of |v|): 1 for a uniform reader.
    Within a sequence, positions of a decile are averaged by weight; sequences count equally.
    """
    frame = positions.assign(magnitude=positions["value"].abs() * positions["weight"])
    frame["total"] = frame.groupby(SEQUENCE_KEYS)["magnitude"].transform("sum")
    frame["normalised"] = frame["length"] * frame["value"].abs() / frame["total"]
    frame["decile"] = (DECILES * frame["position"] // frame["length"]).astype(int)
    frame["weighted"] = frame["normalised"] * frame["weight"]
    per_sequence = frame.groupby([*SEQUENCE_KEYS, "decile"])[["weighted", "weight"]].sum().reset_index()
    per_sequence["normalised"] = per_sequence["weighted"] / per_sequence["weight"]
    bins = length_bins(frame["length"].unique())
    per_sequence["length_bin"] = per_sequence["length"].map({n: b for b in bins for n in b})
    return per_sequence.groupby([*SERIES_KEYS, "length_bin", "decile"])["normalised"].mean().reset_index()


def series_label(display_names: Mapping[str, str], model: str, attention: str, pooling: str) -> str:
    return f"{display_names.get(model, model)}, {attention}, {POOLING_LABELS.get(pooling, pooling)}"


def stage_styles(stages: Sequence[str]) -> dict[str, str]:
    """The last stage (the fully trained model) solid, earlier ones dashed or dotted."""
    return {s: EARLIER_STAGE_STYLES[i % len(EARLIER_STAGE_STYLES)] for i, s in enumerate(stages[:-1])} | {
        stages[-1]: "-"
    }


class SeriesStyle:
    """Colour by arm (config order), marker by attention and pooling, line style by stage."""

    def __init__(self, display_names: Mapping[str, str], stages: Sequence[str]) -> None:
        self.display_names = dict(display_names)
        self.arm_index = {arm: i for i, arm in enumerate(display_names)}
        self.stages = list(stages)
        self.linestyles = stage_styles(self.stages)

    def __call__(self, key: Mapping[str, str]) -> dict[str, str]:
        return {
            "color": arm_color(self.arm_index.get(key["model"], len(self.arm_index))),
            "marker": MARKERS.get((key["attention"], key["pooling"]), OTHER_MARKER),
            "linestyle": self.linestyles.get(key["stage"], "-"),
        }

    def legend(self, ax, present: pd.DataFrame) -> None:
        """Proxy artists on `ax`: one per network (colour and marker), one per stage (line style)."""
        networks = present[["model", "attention", "pooling"]].drop_duplicates()
        for key in networks.to_dict("records"):
            style = self({**key, "stage": self.stages[-1]})
            ax.plot([], [], color=style["color"], marker=style["marker"], linestyle="-", label=self.label(key))
        for stage in self.stages:
            ax.plot([], [], color="black", linestyle=self.linestyles[stage], label=f"stage {stage}")

    def label(self, key: Mapping[str, str]) -> str:
        return series_label(self.display_names, key["model"], key["attention"], key["pooling"])


def order_networks(frame: pd.DataFrame, display_names: Mapping[str, str]) -> pd.DataFrame:
    """Arms in config order; within an arm the saved model first, then its causal variants."""
    order = frame.assign(_arm=frame["model"].map({arm: i for i, arm in enumerate(display_names)}))
    order["_variant"] = order["variant"].map({"saved": 0}).fillna(1)
    return order.sort_values(["_arm", "_variant", "pooling"]).drop(columns=["_arm", "_variant"])


def log_y(ax) -> None:
    """A log y axis labelled in plain numbers, not powers of ten: 1, 2 and 5 of each decade when the
    data span two decades or less, one label per decade beyond; call it after plotting."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    subs = (1.0, 2.0, 5.0) if np.log10(high / low) <= 2 else (1.0,)
    ax.yaxis.set_major_locator(LogLocator(subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def length_x(ax, lengths: Sequence[int]) -> None:
    """A log-2 x axis with a tick at each measured length."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(lengths), [str(n) for n in lengths])
    ax.xaxis.set_minor_locator(NullLocator())


def plot_head_influence(
    summary: pd.DataFrame, prefix: str | Path, display_names: Mapping[str, str], stages: Sequence[str]
) -> list[Path]:
    """Figure 1: rows are the two measures; left the head's raw influence, right its share (log L)."""
    style = SeriesStyle(display_names, stages)
    summary = order_networks(summary, display_names)
    fig, axes = new_figure(ncols=2, nrows=len(MEASURES), width_in=TWO_COLUMN_WIDTH_IN, aspect=0.6)
    for row, (measure, measure_label) in enumerate(MEASURES.items()):
        rows = summary[summary["measure"] == measure]
        for key, series in rows.groupby(NETWORK_KEYS, sort=False):
            series = series.sort_values("length")
            kwargs = style(dict(zip(NETWORK_KEYS, key)))
            axes[row][0].plot(series["length"], series["head"], markersize=3, **kwargs)
            axes[row][1].plot(series["length"], series["share"], markersize=3, **kwargs)
        axes[row][0].set_ylabel(f"{measure_label}\nfirst {HEAD_TOKENS} tokens")
        axes[row][1].set_ylabel("share of the total")
        for ax in axes[row]:
            length_x(ax, sorted(summary["length"].unique()))
            ax.grid(alpha=0.3)
        if (rows["head"] > 0).all() and len(rows):
            log_y(axes[row][0])
    for ax in axes[-1]:
        ax.set_xlabel("sequence length L (tokens)")
    style.legend(axes[-1][0], summary)
    figure_legend(fig, [axes[-1][0]], "lower")
    return save_figure(fig, prefix)


def plot_position_profile(
    profile: pd.DataFrame, prefix: str | Path, display_names: Mapping[str, str], stages: Sequence[str]
) -> list[Path]:
    """Figure 2: rows are the two measures, columns the length bins; x is the relative position."""
    style = SeriesStyle(display_names, stages)
    profile = order_networks(profile, display_names)
    bins = sorted(profile["length_bin"].unique())
    fig, axes = new_figure(ncols=len(bins), nrows=len(MEASURES), width_in=TWO_COLUMN_WIDTH_IN, aspect=0.8)
    centres = (np.arange(DECILES) + 0.5) / DECILES
    for row, (measure, measure_label) in enumerate(MEASURES.items()):
        for col, length_bin in enumerate(bins):
            ax = axes[row][col]
            cell = profile[(profile["measure"] == measure) & (profile["length_bin"] == length_bin)]
            for key, series in cell.groupby(NETWORK_KEYS, sort=False):
                series = series.set_index("decile").reindex(range(DECILES))
                ax.plot(centres, series["normalised"], markersize=2.5, **style(dict(zip(NETWORK_KEYS, key))))
            ax.axhline(1.0, color="grey", linewidth=0.6, zorder=0)
            log_y(ax)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(f"L = {length_bin[0]}" + (f"–{length_bin[-1]}" if len(length_bin) > 1 else ""))
            if col == 0:
                ax.set_ylabel(f"{measure_label}\nnormalised sensitivity")
            if row == len(MEASURES) - 1:
                ax.set_xlabel("relative position")
    style.legend(axes[-1][0], profile)
    figure_legend(fig, [axes[-1][0]], "lower")
    return save_figure(fig, prefix)


def head_share_table(summary: pd.DataFrame, deltas: pd.DataFrame, display_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per network, stage and measure: the head's share at each L, plus IG's worst delta."""
    summary = order_networks(summary, display_names)
    wide = summary.pivot_table(index=SERIES_KEYS, columns="length", values="share", sort=False).reset_index()
    wide.columns = [f"L={c}" if isinstance(c, (int, np.integer)) else c for c in wide.columns]
    worst = (
        deltas.assign(abs_delta=deltas["delta"].abs()).groupby(NETWORK_KEYS)["abs_delta"].max().rename("max abs delta")
    )
    wide = wide.merge(worst.reset_index(), on=NETWORK_KEYS, how="left")
    wide.loc[wide["measure"] != INTEGRATED_GRADIENTS, "max abs delta"] = float("nan")
    wide["model"] = wide["model"].map(lambda arm: display_names.get(arm, arm))
    wide["measure"] = wide["measure"].map({OCCLUSION: "occlusion", INTEGRATED_GRADIENTS: "IG"})
    return wide.drop(columns=["family", "variant"])


def write_head_share_table(
    summary: pd.DataFrame, deltas: pd.DataFrame, prefix: str | Path, display_names: Mapping[str, str]
) -> list[Path]:
    frame = head_share_table(summary, deltas, display_names)
    return write_table(
        frame,
        prefix,
        digits=3,
        caption=f"Share of the first {HEAD_TOKENS} tokens in the pooled embedding's total sensitivity, by length L.",
        notes=[
            "Mean over documents at least L tokens long. Occlusion: 1 - cos after replacing one token; IG: the "
            "magnitude of the integrated-gradients attribution per position; max abs delta: the worst completeness "
            "gap of IG over documents and lengths (sum of attributions minus f(x) - f(baseline))."
        ],
    )


def write_sensitivity_report(
    *,
    positions: Iterable[str | Path],
    deltas: Iterable[str | Path],
    manifests: Iterable[str | Path],
    head_prefix: str | Path,
    position_prefix: str | Path,
    table_prefix: str | Path,
    display_names: Mapping[str, str],
    stages: Sequence[str],
) -> list[Path]:
    """Both figures and the head-share table from every job's outputs; returns the paths written."""
    token_id = check_occlusion_token(manifests)
    table = read_positions(positions)
    delta_table = read_deltas(deltas)
    gap = (delta_table["similarity"] - delta_table["baseline_similarity"]).abs()
    log.info(
        "%d position rows; occlusion token id %d; IG completeness: max abs delta %.2e, max abs delta / |f(x) - f(b)| %.2e",
        len(table),
        token_id,
        delta_table["delta"].abs().max(),
        (delta_table["delta"].abs() / gap.clip(lower=1e-12)).max(),
    )
    summary = head_summary(table)
    return [
        *plot_head_influence(summary, head_prefix, display_names, stages),
        *plot_position_profile(decile_profile(table), position_prefix, display_names, stages),
        *write_head_share_table(summary, delta_table, table_prefix, display_names),
    ]
