"""Table 1 from fixed tidy rows, checked against numbers computed by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from twinarch.core.io import DataError
from twinarch.evaluate.table1 import load_rows, make_table1, table1_frame

# (task, category, metric, encoder score, decoder score)
TASKS = [
    ("JSTS", "STS", "cosine_spearman", 0.80, 0.70),
    ("JSICK", "STS", "cosine_spearman", 0.60, 0.70),
    ("JaqketRetrieval", "Retrieval", "ndcg_at_10", 0.50, 0.40),
    ("Livedoor", "Clustering", "v_measure", 0.30, 0.50),
    ("Amazon", "Classification", "accuracy", 0.90, 0.60),
    ("ESCIReranking", "Reranking", "map_at_1000", 0.20, 0.30),
    ("MIRACLReranking", "Reranking", "ndcg_at_10", 0.40, 0.50),
]
ARMS = [("encoder", "Sentence-ModernBERT-JP-0.5B", 3), ("decoder", "Sentence-Llama-Bi-JP-0.5B", 4)]
DISPLAY_NAMES = {arm: display for arm, display, _ in ARMS}


def write_rows(tmp_path, stage="ft", shift=0.0, skip=()):
    paths = []
    for arm, _, col in ARMS:
        for task in TASKS:
            if (arm, task[0]) in skip:
                continue
            row = {
                "arm": arm,
                "stage": stage,
                "task": task[0],
                "category": task[1],
                "split": "test",
                "main_score": task[col] + shift,
                "metric": task[2],
            }
            path = tmp_path / stage / arm / f"{task[0]}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(row), encoding="utf-8")
            paths.append(path)
    return paths


def test_table1_reproduces_the_hand_computed_averages(tmp_path):
    table = table1_frame(load_rows(write_rows(tmp_path)), "ft", DISPLAY_NAMES).set_index("Model")
    enc = table.loc["Sentence-ModernBERT-JP-0.5B"]
    # Dataset mean (JMTEB): (80+60+50+30+90+20+40)/7 = 52.857...
    assert enc["Avg"] == pytest.approx(370 / 7)
    # Category means: STS 70, Retrieval 50, Clustering 30, Classification 90, Reranking 30.
    assert (
        enc["STS"],
        enc["Retrieval"],
        enc["Clustering"],
        enc["Classification"],
        enc["Reranking"],
    ) == pytest.approx((70, 50, 30, 90, 30))
    assert enc["Avg (categories)"] == pytest.approx((70 + 50 + 30 + 90 + 30) / 5)
    dec = table.loc["Sentence-Llama-Bi-JP-0.5B"]
    assert dec["Avg"] == pytest.approx(370 / 7)
    assert dec["Reranking"] == pytest.approx(40) and dec["STS"] == pytest.approx(70)
    assert dec["Avg (categories)"] == pytest.approx((70 + 40 + 50 + 60 + 40) / 5)
    assert list(table.index) == ["Sentence-ModernBERT-JP-0.5B", "Sentence-Llama-Bi-JP-0.5B"]  # config order
    assert list(table.columns) == [
        "Avg",
        "Avg (categories)",
        "Retrieval",
        "STS",
        "Classification",
        "Reranking",
        "Clustering",
    ]


def test_make_table1_writes_both_tables_with_bold_best_and_metric_notes(tmp_path):
    final = write_rows(tmp_path, "ft")
    base = write_rows(tmp_path, "base", shift=-0.1)
    out = tmp_path / "tables"
    outputs = {
        "csv": out / "table1.csv",
        "md": out / "table1.md",
        "tex": out / "table1.tex",
        "pretrain_only_csv": out / "table1_pretrain_only.csv",
        "pretrain_only_md": out / "table1_pretrain_only.md",
        "pretrain_only_tex": out / "table1_pretrain_only.tex",
    }
    make_table1(final, base, outputs, scale="paper", display_names=DISPLAY_NAMES)
    assert all(p.is_file() for p in outputs.values())

    csv = pd.read_csv(outputs["csv"]).set_index("Model")
    assert csv.loc["Sentence-Llama-Bi-JP-0.5B", "Clustering"] == pytest.approx(50)
    pretrain_only = pd.read_csv(outputs["pretrain_only_csv"]).set_index("Model")
    assert pretrain_only.loc["Sentence-ModernBERT-JP-0.5B", "Avg"] == pytest.approx(370 / 7 - 10)

    md = outputs["md"].read_text(encoding="utf-8")
    assert (
        "| Sentence-ModernBERT-JP-0.5B | **52.86** | **54.00** | **50.00** | **70.00** | **90.00** | 30.00 | 30.00 |"
        in md
    )
    assert "Classification (1 dataset): accuracy [mteb's main score; the JMTEB harness reports macro-F1]." in md
    assert "Reranking (2 datasets): MAP@1000 (ESCIReranking); nDCG@10 (MIRACLReranking)" in md
    assert "STS (2 datasets): Spearman (cosine)." in md
    assert md.index("Retrieval (1 dataset)") < md.index("STS (2") < md.index("Clustering (1")  # table order
    tex = outputs["tex"].read_text(encoding="utf-8")
    assert r"\textbf{52.86}" in tex and r"\toprule" in tex


def test_an_arm_missing_a_task_stops_with_its_name(tmp_path):
    rows = load_rows(write_rows(tmp_path, skip={("decoder", "JSICK")}))
    with pytest.raises(DataError, match=r"arm 'decoder' has no score for tasks \['JSICK'\]"):
        table1_frame(rows, "ft", DISPLAY_NAMES)


def test_a_row_without_its_keys_names_the_file(tmp_path):
    path = tmp_path / "row.json"
    path.write_text(json.dumps({"arm": "encoder"}), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}: evaluation row lacks"):
        load_rows([path])
