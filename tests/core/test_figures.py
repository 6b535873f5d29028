"""What a reader sees first: every figure the workflow writes, rendered through its own plot function
from small synthetic inputs and checked for text that hides other text or the data; and Table 2's
bolding.

Checked after the figure is drawn (constrained layout done), in display coordinates, with
matplotlib's own extents (`get_window_extent(renderer)`):

- a *label box* is the extent of a visible, non-empty Text of the figure: axis labels, the tick
  labels that are drawn (major and minor ticks inside the view limits), axes titles (centre, left,
  right), the figure's suptitle, legend texts;
- a *legend box* is a legend's whole extent (its handles and texts);
- a *data area* is an axes' rectangle (`ax.get_window_extent`, the axes patch, where lines are drawn).

Two boxes overlap when their intersection is more than `TOLERANCE_PX` wide and tall (boxes that
only touch do not). The checks:

1. no two label boxes overlap;
2. no legend box overlaps a label box other than its own texts;
3. no legend box overlaps a data area at all: the figures are drawn from results the code has not
   seen, so a legend on a panel that happens to miss the lines today can hide them on the next run;
4. every labelled line or collection (label not starting with "_") has its label in a legend, so
   the reader can tell which curve is which.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from twinarch.core import plotting
from twinarch.core.io import atomic_write_json, atomic_write_jsonl
from twinarch.pretrain import learning_curves
from twinarch.profile import report as profile_report
from twinarch.quality import report as quality_report

TOLERANCE_PX = 0.5
# The paper config's display names (the longest the study prints) and short ones.
PAPER_ARMS = {
    "pretrained_decoder": ("Sentence-Sarashina-Bi-0.5B", "llama"),
    "encoder": ("Sentence-ModernBERT-JP-0.5B", "modernbert"),
    "decoder": ("Sentence-Llama-Bi-JP-0.5B", "llama"),
}
SHORT_ARMS = {"encoder": ("Encoder", "modernbert"), "decoder": ("Decoder", "llama")}
ARM_SETS = {"paper names": PAPER_ARMS, "short names": SHORT_ARMS}
OBJECTIVES = {"modernbert": "mlm", "llama": "clm"}


# ----------------------------------------------------------------------------- the checks


def overlap(a: Any, b: Any) -> bool:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > TOLERANCE_PX and height > TOLERANCE_PX


def undrawn_tick_labels(fig: Any) -> set[int]:
    """Ids of the tick labels of ticks outside the view limits (matplotlib keeps them, undrawn)."""
    hidden = set()
    for axis in (axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)):
        low, high = sorted(axis.get_view_interval())
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            loc = tick.get_loc()
            if not (low <= loc <= high or np.isclose(loc, low) or np.isclose(loc, high)):
                hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def label_texts(fig: Any) -> list[tuple[str, Any]]:
    """(what, Text) for every visible, non-empty, drawn Text artist of the figure."""
    hidden = undrawn_tick_labels(fig)
    names = {id(t): "the legend entry" for legend in legends(fig) for t in legend.get_texts()}
    for n, ax in enumerate(fig.axes):
        names |= {id(ax.xaxis.label): f"axes {n}'s x label", id(ax.yaxis.label): f"axes {n}'s y label"}
    return [
        (f"{names.get(id(t), 'the text')} {t.get_text()!r}", t)
        for t in fig.findobj(Text)
        if id(t) not in hidden and t.get_visible() and t.get_text().strip()
    ]


def legends(fig: Any) -> list[Any]:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]


def layout_problems(fig: Any) -> list[str]:
    """Every violation of checks 1-4 of the module docstring, named. Drawn on a fresh Agg canvas:
    save_figure closed the figure's pyplot window."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(what, text, text.get_window_extent(renderer)) for what, text in label_texts(fig)]
    problems = [
        f"{a} overlaps {b}"
        for (a, _, box_a), (b, _, box_b) in itertools.combinations(boxes, 2)
        if overlap(box_a, box_b)
    ]
    for legend in legends(fig):
        legend_box = legend.get_window_extent(renderer)
        own = {id(t) for t in legend.get_texts()}
        problems += [
            f"the legend overlaps {what}"
            for what, text, box in boxes
            if id(text) not in own and overlap(legend_box, box)
        ]
        problems += [
            f"the legend overlaps the data area of axes {n}"
            for n, ax in enumerate(fig.axes)
            if overlap(legend_box, ax.get_window_extent(renderer))
        ]
    in_legends = {t.get_text() for legend in legends(fig) for t in legend.get_texts()}
    for ax in fig.axes:
        for artist in [*ax.get_lines(), *ax.collections]:
            label = artist.get_label()
            if label and not label.startswith("_") and label not in in_legends:
                problems.append(f"{label!r} is drawn but not in any legend")
    return problems


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the plot functions save (each still written to disk by the real save_figure)."""
    figures: list[Any] = []

    def keep(fig: Any, prefix: str | Path) -> list[Path]:
        figures.append(fig)
        return plotting.save_figure(fig, prefix)

    for module in (learning_curves, profile_report, quality_report):
        monkeypatch.setattr(module, "save_figure", keep)
    return figures


def only_figure(drawn: list[Any], paths: list[Path]) -> Any:
    assert [p.suffix for p in paths] == [".pdf", ".png"] and all(p.stat().st_size > 5000 for p in paths)
    assert len(drawn) == 1
    return drawn[0]


# ----------------------------------------------------------------------------- synthetic inputs


def write_metrics(
    tmp_path: Path, arms: dict[str, tuple[str, str]], stages: list[str]
) -> dict[tuple[str, str, str], Path]:
    """metrics.jsonl per (arm, seed, stage), two replicate seeds: losses falling with tokens, MLM
    above CLM as in the study."""
    paths = {}
    for (index, arm), seed, stage in itertools.product(enumerate(arms), ("0", "1"), stages):
        level = 3.0 if OBJECTIVES[arms[arm][1]] == "mlm" else 2.0
        rows = [
            {"tokens": step * 65_536, "eval_loss": level + 4.0 / (1 + step) + 0.1 * index + 0.05 * int(seed)}
            for step in range(9)
        ]
        paths[(arm, seed, stage)] = atomic_write_jsonl(tmp_path / arm / seed / stage / "metrics.jsonl", rows)
    return paths


def profile_frame(tmp_path: Path, arms: dict[str, tuple[str, str]], seq_lens: list[int]) -> pd.DataFrame:
    """The paper's grid (batches 16-512) for every arm; decoders run out of memory at the longest
    length's largest batch."""
    paths = []
    for index, (arm, (_, family)) in enumerate(arms.items()):
        rows = []
        for mode, seq_len, batch in itertools.product(["forward", "encode"], seq_lens, [16, 32, 64, 128, 256, 512]):
            oom = family == "llama" and seq_len == max(seq_lens) and batch == 512
            rows.append(
                {
                    "arm": arm,
                    "family": family,
                    "mode": mode,
                    "seq_len": seq_len,
                    "batch_size": batch,
                    "status": "oom" if oom else "ok",
                    "samples_per_s": np.nan if oom else 2200.0 * min(batch, 128) / 128 * 128 / seq_len / (1 + index),
                    "samples_per_s_low": np.nan
                    if oom
                    else 2100.0 * min(batch, 128) / 128 * 128 / seq_len / (1 + index),
                    "samples_per_s_high": np.nan
                    if oom
                    else 2300.0 * min(batch, 128) / 128 * 128 / seq_len / (1 + index),
                    "rounds": 3,
                    "peak_memory_mb": np.nan if oom else 1300.0 + 12.0 * batch * seq_len / 128 * (1 + index),
                    "device_name": "NVIDIA H100 80GB HBM3",
                    "dtype": "bfloat16",
                    "attn_implementation": "sdpa",
                    "memory_measure": "cuda_max_allocated",
                }
            )
        paths.append(tmp_path / f"{arm}.csv")
        pd.DataFrame(rows).to_csv(paths[-1], index=False)
    return profile_report.read_profiles(paths, {arm: name for arm, (name, _) in arms.items()})


def quality_frame(tmp_path: Path, arms: dict[str, tuple[str, str]]) -> pd.DataFrame:
    paths = []
    for index, arm in enumerate(arms):
        for seed in (0, 1):
            for estage, (alignment, uniformity) in {"base": (1.0, -0.6), "ft": (0.45, -2.7)}.items():
                path = tmp_path / "quality" / arm / str(seed) / f"{estage}.json"
                point = {
                    "arm": arm,
                    "seed": seed,
                    "estage": estage,
                    "alignment": alignment + 0.1 * index + 0.02 * seed,
                    "uniformity": uniformity - 0.05 * seed,
                }
                atomic_write_json(path, point)
                paths.append(path)
    return quality_report.read_quality(paths)


# ----------------------------------------------------------------------------- the figures


@pytest.mark.parametrize("arm_set", ARM_SETS, ids=list(ARM_SETS))
@pytest.mark.parametrize("stages", [["stage1", "stage2"], ["stage1"]], ids=["two stages", "one stage"])
def test_learning_curves_legend_leaves_labels_and_lines_visible(tmp_path, drawn, arm_set, stages):
    arms = {arm: v for arm, v in ARM_SETS[arm_set].items() if arm != "pretrained_decoder"}  # no pretraining
    entries = [{"name": a, "display_name": n, "objective": OBJECTIVES[f]} for a, (n, f) in arms.items()]
    paths = learning_curves.plot_learning_curves(
        write_metrics(tmp_path, arms, stages), entries, stages, tmp_path / "lc"
    )
    fig = only_figure(drawn, paths)
    assert layout_problems(fig) == []
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        f"{e['display_name']} ({e['objective'].upper()})" for e in entries
    ]


@pytest.mark.parametrize("arm_set", ARM_SETS, ids=list(ARM_SETS))
@pytest.mark.parametrize("seq_lens", [[128, 256, 512], [128]], ids=["three lengths", "one length"])
@pytest.mark.parametrize("plot", [profile_report.plot_fig3, profile_report.plot_fig4], ids=["fig3", "fig4"])
def test_figures_3_and_4_legend_leaves_labels_and_lines_visible(tmp_path, drawn, arm_set, seq_lens, plot):
    paths = plot(profile_frame(tmp_path, ARM_SETS[arm_set], seq_lens), tmp_path / "fig", mode="encode")
    fig = only_figure(drawn, paths)
    assert layout_problems(fig) == []
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == len(ARM_SETS[arm_set])


@pytest.mark.parametrize("arm_set", ARM_SETS, ids=list(ARM_SETS))
def test_figure_2_legend_leaves_labels_and_points_visible(tmp_path, drawn, arm_set):
    arms = ARM_SETS[arm_set]
    names = {arm: name for arm, (name, _) in arms.items()}
    fig = only_figure(drawn, quality_report.plot_fig2(quality_frame(tmp_path, arms), tmp_path / "fig2", names))
    assert layout_problems(fig) == []
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == [*names.values(), "pretrain-only", "fine-tuned"]


def test_the_checks_catch_a_legend_on_the_axis_label_and_on_the_lines():
    """The checks can fail: the learning-curve legend as it was (hung from the figure's bottom edge,
    without a layout engine, onto the x-axis label) and a legend on a panel's lines."""
    fig, axes = plotting.new_figure(ncols=2, aspect=0.9)
    fig.set_layout_engine("none")
    for ax in axes[0]:
        ax.plot([0, 1], [0, 1], label="Sentence-ModernBERT-JP-0.5B (MLM)")
        ax.set_xlabel("tokens (M)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, frameon=False)
    axes[0][1].legend(loc="center")
    problems = layout_problems(fig)
    assert any(p.startswith("the legend overlaps axes 0's x label") for p in problems), problems
    assert "the legend overlaps the data area of axes 1" in problems, problems


# ----------------------------------------------------------------------------- Table 2


@pytest.mark.parametrize(
    ("speeds", "bold_speedup"),
    [({"encoder": 2205.0, "decoder": 1421.0}, "**1.55**"), ({"encoder": 1000.0, "decoder": 1421.0}, None)],
    ids=["encoder faster", "baseline faster"],
)
def test_table2_never_bolds_the_baselines_own_speedup(tmp_path, speeds, bold_speedup):
    rows = profile_frame(tmp_path, SHORT_ARMS, [128])
    for arm, speed in speeds.items():
        rows.loc[(rows["arm"] == arm) & (rows["batch_size"] == 128), "samples_per_s"] = speed
    md = profile_report.write_table2(
        rows, tmp_path / "table2", mode="encode", seq_len=128, batch_size=128, baseline_arm="decoder", note=""
    )[1].read_text(encoding="utf-8")
    decoder_row = next(line for line in md.splitlines() if line.startswith("| Decoder |"))
    encoder_row = next(line for line in md.splitlines() if line.startswith("| Encoder |"))
    assert decoder_row.endswith("| 1.00 |")
    if bold_speedup:
        assert encoder_row.endswith(f"| {bold_speedup} |")
    else:
        assert "**" not in encoder_row.rsplit("|", 2)[1]
