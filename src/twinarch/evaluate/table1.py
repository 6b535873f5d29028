"""Table 1: the tidy evaluation rows of every arm aggregated as JMTEB aggregates them.

JMTEB's overall average is the mean over datasets (a category with many datasets weighs more);
the mean over category means is given beside it. Scores are mteb's main scores times 100. mteb's
main score is not the JMTEB harness's for every category, so the table says which metric each
category uses and where it differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from twinarch.core.io import DataError, read_records
from twinarch.core.tables import write_table
from twinarch.evaluate.config import PRETRAIN_ONLY_STAGE, TABLE1_STAGE

CATEGORIES = ("Retrieval", "STS", "Classification", "Reranking", "Clustering")
ROW_KEYS = ("arm", "stage", "task", "category", "main_score", "metric")
# The metric the JMTEB harness (sbintuitions/JMTEB) reports for each category.
JMTEB_HARNESS_METRICS = {
    "Retrieval": "ndcg_at_10",
    "STS": "cosine_spearman",
    "Classification": "f1",
    "Reranking": "ndcg_at_10",
    "Clustering": "v_measure",
}
METRIC_NAMES = {
    "ndcg_at_10": "nDCG@10",
    "map_at_1000": "MAP@1000",
    "cosine_spearman": "Spearman (cosine)",
    "accuracy": "accuracy",
    "f1": "macro-F1",
    "v_measure": "V-measure",
}
AVG = "Avg"
AVG_CATEGORIES = "Avg (categories)"


def load_rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The tidy rows written by `twinarch.evaluate.scoring`, one per (arm, stage, task), in file order."""
    return pd.DataFrame(read_records(paths, ROW_KEYS, "evaluation row"))


def _check_complete(rows: pd.DataFrame) -> None:
    """Every arm must be scored on the same tasks, else averages compare different things."""
    tasks = set(rows["task"])
    for arm, group in rows.groupby("arm", sort=False):
        missing = sorted(tasks - set(group["task"]))
        if missing:
            raise DataError(f"arm '{arm}' has no score for tasks {missing} (stage {group['stage'].iloc[0]})")


def table1_frame(rows: pd.DataFrame, stage: str, display_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per arm (its display name, in config order): the dataset mean, the category mean and one
    column per category (mean over its datasets), scores x100."""
    rows = rows[rows["stage"] == stage]
    if rows.empty:
        raise DataError(f"no evaluation rows of stage '{stage}'")
    _check_complete(rows)
    categories = list(CATEGORIES) + sorted(set(rows["category"]) - set(CATEGORIES))
    table = []
    for arm, group in rows.groupby("arm", sort=False):
        scores = group["main_score"].astype(float) * 100
        by_category = scores.groupby(group["category"]).mean()
        entry: dict[str, object] = {
            "Model": display_names.get(str(arm), str(arm)),
            AVG: scores.mean(),
            AVG_CATEGORIES: by_category.mean(),
        }
        entry.update({c: float(by_category.get(c, float("nan"))) for c in categories})
        table.append(entry)
    return pd.DataFrame(table)


def metric_notes(rows: pd.DataFrame) -> list[str]:
    """Which metric each category reports, its number of datasets, and where mteb's main score is
    not the one the JMTEB harness reports."""
    notes = []
    tasks = rows.drop_duplicates("task")
    order = {c: i for i, c in enumerate(CATEGORIES)}
    groups = sorted(tasks.groupby("category", sort=False), key=lambda g: order.get(str(g[0]), len(order)))
    for category, group in groups:
        mixed = group["metric"].nunique() > 1
        metrics = []
        for metric, per_metric in group.groupby("metric", sort=False):
            name = METRIC_NAMES.get(str(metric), str(metric))
            metrics.append(f"{name} ({', '.join(per_metric['task'])})" if mixed else name)
        count = f"{len(group)} dataset{'s' if len(group) > 1 else ''}"
        note = f"{category} ({count}): {'; '.join(metrics)}"
        harness = JMTEB_HARNESS_METRICS.get(str(category))
        if harness and set(group["metric"]) != {harness}:
            note += f" [mteb's main score; the JMTEB harness reports {METRIC_NAMES[harness]}]"
        notes.append(note + ".")
    return notes


def write_table1(
    rows: pd.DataFrame, prefix: str | Path, *, stage: str, caption: str, display_names: Mapping[str, str]
) -> list[Path]:
    table = table1_frame(rows, stage, display_names)
    notes = [
        f"{AVG}: mean over all datasets (JMTEB's average); {AVG_CATEGORIES}: mean over category means.",
        *metric_notes(rows[rows["stage"] == stage]),
    ]
    score_columns = [c for c in table.columns if c != "Model"]
    return write_table(table, prefix, bold_max=score_columns, caption=caption, notes=notes)


def make_table1(
    row_paths: Iterable[str | Path],
    pretrain_only_paths: Iterable[str | Path],
    outputs: Mapping[str, str | Path],
    scale: str,
    display_names: Mapping[str, str],
) -> None:
    """Table 1 (fine-tuned models) and its pretrain-only companion (pretrained model + pooling)."""
    tables = (
        (row_paths, "csv", TABLE1_STAGE, "Table 1: JMTEB scores of the sentence embedding models"),
        (
            pretrain_only_paths,
            "pretrain_only_csv",
            PRETRAIN_ONLY_STAGE,
            "Table 1, pretrain-only: the pretrained models with pooling, before contrastive training",
        ),
    )
    for paths, output, stage, title in tables:
        write_table1(
            load_rows(paths),
            Path(outputs[output]).with_suffix(""),
            stage=stage,
            caption=f"{title} ({scale} scale, x100).",
            display_names=display_names,
        )
