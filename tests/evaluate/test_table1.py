"""Table 1 from planted tidy rows and per-example scores, checked against numbers computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from twinarch.core.io import DataError
from twinarch.evaluate.table1 import arm_estimates, load_rows, make_table1, table_cells

# (task, category, kind, JMTEB metric, encoder score, decoder score): every planted task's
# per-example scores average exactly to its score.
TASKS = [
    ("JSTS", "STS", "pairs", "cosine_spearman", None, None),
    ("JaqketRetrieval", "Retrieval", "per_query", "ndcg_at_10", 0.50, 0.40),
    ("MIRACLRetrieval", "Retrieval", "per_query", "ndcg_at_10", 0.70, 0.40),
    ("Livedoor", "Clustering", "replicates", "v_measure", 0.30, 0.50),
    ("ESCIReranking", "Reranking", "per_query", "ndcg_at_10", 0.20, 0.30),
]
ARMS = {"encoder": ("Sentence-ModernBERT-JP-0.5B", 4), "decoder": ("Sentence-Llama-Bi-JP-0.5B", 5)}
DISPLAY_NAMES = {arm: display for arm, (display, _) in ARMS.items()} | {"bm25": "BM25"}
N = 40


def examples_of(kind: str, score: float | None, arm: str, seed: int) -> dict:
    rng = np.random.default_rng([seed, len(arm)])
    if kind == "per_query":
        noise = rng.normal(0, 0.05, N)
        subset = {"ids": [f"q{i}" for i in range(N)], "values": list(score + noise - noise.mean())}
    elif kind == "replicates":
        noise = rng.normal(0, 0.01, 10)
        subset = {"replicates": list(score + noise - noise.mean())}
    else:  # STS: the encoder ranks pairs exactly (Spearman 1), the decoder in reverse (-1)
        gold = np.arange(N, dtype=float)
        subset = {"pred": list(gold if arm == "encoder" else -gold), "gold": list(gold)}
    return {"kind": kind, "subsets": [{"subset": "default", "split": "test", **subset}]}


def write_rows(tmp_path, stage="ft", seeds=(0, 1), skip=(), arms=ARMS) -> list:
    paths = []
    for arm, (_, col) in arms.items():
        for seed in seeds:
            for task in TASKS:
                if (arm, task[0]) in skip:
                    continue
                name, category, kind, metric = task[:4]
                score = task[col]
                row = {
                    "arm": arm,
                    "seed": seed,
                    "stage": stage,
                    "task": name,
                    "category": category,
                    "main_score": 0.0,
                    "metric": metric,
                    "jmteb_metric": metric,
                    "jmteb_score": score,
                }
                path = tmp_path / stage / arm / f"seed_{seed}" / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(row), encoding="utf-8")
                examples = examples_of(kind, score, arm, seed)
                path.with_name(f"{name}.examples.json").write_text(json.dumps(examples), encoding="utf-8")
                paths.append(path)
    return paths


def table_outputs(out) -> dict:
    """The files make_table1 is told to write (it writes the .md and .tex beside each)."""
    return {
        "csv": out / "table1.csv",
        "pretrain_only_csv": out / "table1_pretrain_only.csv",
        "paired_csv": out / "table1_paired.csv",
        "stats": out / "table1_stats.json",
    }


def test_cells_are_the_hand_computed_averages_and_intervals_contain_them(tmp_path):
    rows = load_rows(write_rows(tmp_path))
    estimates, _ = arm_estimates(rows, "ft", 500, seed=0)
    cells = table_cells(estimates, dict(zip(rows["task"], rows["category"], strict=False)))
    enc, dec = cells["encoder"], cells["decoder"]
    # Datasets: STS 1.0, retrieval 0.5 and 0.7, clustering 0.3, reranking 0.2.
    assert enc["Avg"].point == pytest.approx((1.0 + 0.5 + 0.7 + 0.3 + 0.2) / 5)
    assert enc["Retrieval"].point == pytest.approx(0.6)
    assert enc["Avg (categories)"].point == pytest.approx((1.0 + 0.6 + 0.3 + 0.2) / 4)
    assert dec["STS"].point == pytest.approx(-1.0) and dec["Reranking"].point == pytest.approx(0.3)
    for cell in (enc["Avg"], enc["Retrieval"], dec["Clustering"]):
        low, high = cell.interval()
        assert low <= cell.point <= high and high - low < 0.1


def test_make_table1_writes_intervals_paired_comparisons_and_the_numbers(tmp_path):
    final = write_rows(tmp_path, "ft")
    base = write_rows(tmp_path, "base")
    out = tmp_path / "tables"
    outputs = table_outputs(out)
    make_table1(final, base, [], outputs, "paper", DISPLAY_NAMES, n_resamples=300, n_permutations=300, seed=0)
    csv = pd.read_csv(outputs["csv"]).set_index("Model")
    assert csv.loc["Sentence-ModernBERT-JP-0.5B", "Retrieval"] == pytest.approx(60.0)
    assert (
        csv.loc["Sentence-ModernBERT-JP-0.5B", "Retrieval low"]
        < 60.0
        < csv.loc["Sentence-ModernBERT-JP-0.5B", "Retrieval high"]
    )
    md = out.joinpath("table1.md").read_text(encoding="utf-8")
    assert "| Sentence-ModernBERT-JP-0.5B | **54.00 [" in md
    assert "STS (1 dataset): Spearman (cosine)." in md and "Reranking (1 dataset): nDCG@10." in md
    assert "mean over 2 replicate seeds" in md
    assert md.index("Retrieval (2 datasets)") < md.index("STS (1") < md.index("Clustering (1")  # table order
    paired = pd.read_csv(outputs["paired_csv"])
    sts = paired[paired["task"] == "JSTS"].iloc[0]
    assert (sts["A"], sts["B"]) == ("Sentence-ModernBERT-JP-0.5B", "Sentence-Llama-Bi-JP-0.5B")
    assert sts["A - B"] == pytest.approx(200.0) and sts["low"] > 0 and sts["p"] < 0.01
    assert set(paired["task"]) == {t[0] for t in TASKS} | {"Avg"}
    per_task = paired[paired["task"] != "Avg"]
    assert (per_task["p (Holm)"] >= per_task["p"]).all()
    avg = paired[paired["task"] == "Avg"].iloc[0]
    # The averages' p is the paired bootstrap's, resolved down to 2 / (B + 1) with B = 300 resamples.
    assert avg["low"] <= avg["A - B"] <= avg["high"] and 2 / 301 <= avg["p"] <= 1
    assert avg["test"].startswith("paired bootstrap") and np.isnan(avg["p (Holm)"])
    stats = json.loads(outputs["stats"].read_text(encoding="utf-8"))
    assert stats["ft"]["encoder"]["Avg"]["mean"] == pytest.approx(54.0)
    assert len(stats["ft"]["encoder"]["Avg"]["per_seed"]) == 2


def test_a_baseline_covers_its_tasks_only_and_has_no_averages(tmp_path):
    arms = write_rows(tmp_path)
    baseline = []
    for name, category, kind, metric, _, _ in TASKS:
        if kind != "per_query":
            continue
        row = {
            "arm": "bm25",
            "seed": None,
            "stage": "baseline",
            "task": name,
            "category": category,
            "main_score": 0.0,
            "metric": metric,
            "jmteb_metric": metric,
            "jmteb_score": 0.9,
        }
        path = tmp_path / "baselines" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row), encoding="utf-8")
        path.with_name(f"{name}.examples.json").write_text(json.dumps(examples_of(kind, 0.9, "bm25", 0)))
        baseline.append(path)
    outputs = table_outputs(tmp_path / "tables")
    make_table1(arms, arms, baseline, outputs, "demo", DISPLAY_NAMES, n_resamples=200, n_permutations=200)
    csv = pd.read_csv(outputs["csv"]).set_index("Model")
    assert csv.loc["BM25", "Retrieval"] == pytest.approx(90.0) and np.isnan(csv.loc["BM25", "Avg"])
    assert np.isnan(csv.loc["BM25", "STS"])
    stats = json.loads(outputs["stats"].read_text(encoding="utf-8"))
    assert stats["ft"]["bm25"]["Retrieval"]["per_seed"] == pytest.approx([90.0, 90.0])  # no seed variation


def test_an_arm_missing_a_task_stops_with_its_name(tmp_path):
    rows = load_rows(write_rows(tmp_path, skip={("decoder", "JSTS")}))
    with pytest.raises(DataError, match=r"arm 'decoder' has no score for tasks \['JSTS'\]"):
        arm_estimates(rows, "ft", 100, 0)


def test_a_row_without_its_keys_names_the_file(tmp_path):
    path = tmp_path / "row.json"
    path.write_text(json.dumps({"arm": "encoder"}), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}: evaluation row lacks"):
        load_rows([path])


def test_the_paired_table_compares_only_the_pairs_asked(tmp_path):
    arms = {**ARMS, "other": ("Other", 5)}
    final, base = write_rows(tmp_path, "ft", arms=arms), write_rows(tmp_path, "base", arms=arms)
    out = tmp_path / "tables"
    outputs = table_outputs(out)
    names = DISPLAY_NAMES | {"other": "Other"}
    every = dict(n_resamples=50, n_permutations=50, seed=0)
    make_table1(final, base, [], outputs, "demo", names, **every)
    assert len(pd.read_csv(outputs["paired_csv"]).groupby(["A", "B"])) == 3  # every two of three arms
    # Asked in the other order, a pair keeps the order of the table (config order).
    make_table1(final, base, [], outputs, "demo", names, **every, pairs=[["other", "encoder"], ["decoder", "bm25"]])
    paired = pd.read_csv(outputs["paired_csv"])
    assert set(zip(paired["A"], paired["B"], strict=True)) == {("Sentence-ModernBERT-JP-0.5B", "Other")}
