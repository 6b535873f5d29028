"""The trade-off table (Table 1's aggregation of tidy rows, parameters, speedups) and both figures."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from twinarch.core.io import DataError, atomic_write_json
from twinarch.evaluate.config import examples_path
from twinarch.evaluate.table1 import AVG, load_rows
from twinarch.prune.config import VARIANTS, pruned_stage
from twinarch.prune.report import (
    CHANGE,
    CHANGE_P,
    KEPT,
    PARAMS,
    RETRIEVAL,
    SPEEDUP,
    K,
    make_tradeoff_table,
    plot_importance,
    plot_tradeoff,
    tradeoff_frame,
)

ARMS = {"encoder": "ModernBERT", "decoder": "Llama-Bi"}
KS = [1, 2]
SEEDS = [0, 1]
TASKS = {"Ret": "Retrieval", "Rer": "Reranking"}
# The score per (arm, seed, k, variant, task): the encoder loses more per MLP than the decoder, and
# seed 1 scores 2 points above seed 0.
LOSS_PER_MLP = {"encoder": 0.10, "decoder": 0.05}


def score(arm: str, seed: int, k: int, variant: str, task: str) -> float:
    base = 0.8 if task == "Ret" else 0.6
    return base + 0.02 * seed - LOSS_PER_MLP[arm] * k * (2 if variant == "dropped" else 1)


def write_row(path, arm: str, seed: int, stage: str, task: str, value: float) -> None:
    """A tidy row as twinarch.evaluate.scoring writes it, and its per-query examples beside it (every
    query scores `value`, so the task's JMTEB score is exactly `value`)."""
    row = {"arm": arm, "seed": seed, "stage": stage, "task": task, "category": TASKS[task], "metric": "ndcg_at_10"}
    atomic_write_json(path, {**row, "main_score": value, "jmteb_metric": "ndcg_at_10", "jmteb_score": value})
    subset = {"subset": "default", "split": "test", "ids": [f"q{i}" for i in range(8)], "values": [value] * 8}
    examples = {"category": TASKS[task], "metric": "ndcg_at_10", "kind": "per_query", "subsets": [subset]}
    atomic_write_json(examples_path(path), examples)


@pytest.fixture()
def inputs(tmp_path):
    rows, manifests = [], []
    cells = [(0, "ft", VARIANTS[0])] + [(k, pruned_stage("ft", k, v), v) for k in KS for v in VARIANTS]
    for arm in ARMS:
        for seed in SEEDS:
            for task in TASKS:
                for k, stage, variant in cells:
                    path = tmp_path / "rows" / arm / f"seed_{seed}" / stage / f"{task}.json"
                    write_row(path, arm, seed, stage, task, score(arm, seed, k, variant, task))
                    rows.append(path)
            for k in KS:
                path = tmp_path / "manifests" / arm / f"{seed}_{k}.json"
                manifest = {"arm": arm, "seed": seed, "k": k, "non_embedding_params_before": 4_000_000}
                atomic_write_json(path, {**manifest, "non_embedding_params": 4_000_000 - k * 500_000})
                manifests.append(path)
    speeds = pd.DataFrame(
        [{"arm": arm, "k": k, "samples_per_s": 100.0 * (1 + 0.25 * k)} for arm in ARMS for k in (0, *KS)]
    )
    speeds.to_csv(tmp_path / "throughput.csv", index=False)
    return rows, manifests, tmp_path / "throughput.csv"


def test_the_table_has_a_row_per_arm_and_k_with_table1_scores_sizes_and_speedups(inputs):
    rows, manifests, speeds = inputs
    table, intervals = tradeoff_frame(
        load_rows(rows),
        [json.loads(p.read_text()) for p in manifests],
        pd.read_csv(speeds),
        from_stage="ft",
        ks=KS,
        variants=VARIANTS,
        display_names=ARMS,
        n_resamples=200,
    )
    assert list(table["Model"]) == ["ModernBERT"] * 3 + ["Llama-Bi"] * 3
    assert list(table[K]) == [0, 1, 2, 0, 1, 2]
    encoder_k2 = table.iloc[2]
    assert encoder_k2[PARAMS] == pytest.approx(3.0) and encoder_k2[KEPT] == pytest.approx(75.0)
    assert encoder_k2[SPEEDUP] == pytest.approx(1.5)
    # Means over the two seeds (+0.01 on average), in Table 1's x100.
    assert encoder_k2[RETRIEVAL] == pytest.approx(100 * (0.8 + 0.01 - 0.2))
    assert encoder_k2[AVG] == pytest.approx(100 * ((0.8 + 0.6) / 2 + 0.01 - 0.2))
    assert encoder_k2[f"{AVG}, no recovery"] == pytest.approx(100 * ((0.8 + 0.6) / 2 + 0.01 - 0.4))
    unpruned = table.iloc[3]
    assert unpruned[SPEEDUP] == 1.0 and unpruned[AVG] == unpruned[f"{AVG}, no recovery"] == pytest.approx(71.0)
    # Every query of a seed scores alike: the interval is the spread of the two seeds' means.
    low, high = intervals[AVG][2]
    assert 100 * (0.7 - 0.2) - 1e-6 <= low <= encoder_k2[AVG] <= high <= 100 * (0.72 - 0.2) + 1e-6
    assert len(intervals[RETRIEVAL]) == len(table)
    # The change against the unpruned model, paired: every query of a seed moves alike, so the
    # interval is narrower than either model's own, and it excludes 0.
    assert encoder_k2[CHANGE] == pytest.approx(-20.0)
    low, high = intervals[CHANGE][2]
    assert low == pytest.approx(-20.0) == high and high - low < intervals[AVG][2][1] - intervals[AVG][2][0]
    assert encoder_k2[CHANGE_P] <= 2 / 201 and np.isnan(unpruned[CHANGE_P]) and intervals[CHANGE][3] is None


def test_a_missing_k_is_named(inputs):
    rows, manifests, speeds = inputs
    with pytest.raises(DataError, match=r"no pruned model for k = \[3\]"):
        tradeoff_frame(
            load_rows(rows),
            [json.loads(p.read_text()) for p in manifests],
            pd.read_csv(speeds),
            from_stage="ft",
            ks=[1, 2, 3],
            variants=VARIANTS,
            display_names=ARMS,
            n_resamples=10,
        )


def test_table_and_figures_are_written(inputs, tmp_path):
    rows, manifests, speeds = inputs
    paths = make_tradeoff_table(
        rows,
        manifests,
        speeds,
        tmp_path / "tables" / "prune_tradeoff",
        from_stage="ft",
        ks=KS,
        variants=VARIANTS,
        display_names=ARMS,
        scale="test",
        n_resamples=50,
    )
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex"]
    assert "MLP pruning" in paths[1].read_text(encoding="utf-8")
    assert {f"{AVG} low", f"{AVG} high"} <= set(pd.read_csv(paths[0]).columns)
    drawn = []
    with mock.patch("twinarch.prune.report.save_figure", side_effect=lambda fig, prefix: drawn.append(fig) or []):
        plot_tradeoff(paths[0], tmp_path / "figures" / "unsaved")
    labels = {text.get_text() for ax in drawn[0].axes for text in ax.texts}
    assert labels == {f"k={k}" for k in [0, *KS]}  # each point says what its number is (0: unpruned)
    figures = plot_tradeoff(paths[0], tmp_path / "figures" / "prune_tradeoff")
    assert all(p.stat().st_size > 0 for p in figures)

    importance = []
    for arm in ARMS:
        path = tmp_path / "importance" / f"{arm}.json"
        atomic_write_json(
            path, {"arm": arm, "num_layers": 4, "importance": [0.3, 0.1, 0.05, 0.2], "ranking": [2, 1, 3, 0]}
        )
        importance.append(path)
    assert all(p.stat().st_size > 0 for p in plot_importance(importance, tmp_path / "figures" / "imp", ARMS))
