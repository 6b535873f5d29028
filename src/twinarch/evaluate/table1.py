"""Table 1 in JMTEB's metrics, with 95% intervals, and the paired comparisons of every two arms.

JMTEB's overall average is the mean over datasets (a category with many datasets weighs more); the
mean over category means is given beside it. Each task is scored in the metric the JMTEB harness
reports (nDCG@10 for retrieval and reranking, Spearman for STS, macro-F1 for classification,
V-measure for clustering), recomputed from the per-example scores every scoring job leaves beside its
tidy row (twinarch.evaluate.examples); mteb's own main score stays in the tidy rows. A cell is the
mean over replicate seeds, with a 95% two-level bootstrap interval (seeds, then test examples;
twinarch.evaluate.stats); averages are resampled with the tasks they average, replicate by
replicate. A model scored on part of the categories only (a lexical baseline) has no averages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from twinarch.core.io import DataError, atomic_write_json, read_json, read_records
from twinarch.core.tables import write_table
from twinarch.evaluate.config import PRETRAIN_ONLY_STAGE, TABLE1_STAGE, examples_path
from twinarch.evaluate.stats import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_RESAMPLES,
    TaskEstimate,
    average,
    bootstrap_p,
    compare,
    estimate,
    holm,
)

CATEGORIES = ("Retrieval", "STS", "Classification", "Reranking", "Clustering")
ROW_KEYS = ("arm", "seed", "stage", "task", "category", "main_score", "metric", "jmteb_metric", "jmteb_score")
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
SCALE = 100.0


def load_rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The tidy rows written by `twinarch.evaluate.scoring`, one per (arm, seed, stage, task)."""
    paths = list(paths)
    rows = pd.DataFrame(read_records(paths, ROW_KEYS, "evaluation row"))
    rows["path"] = [str(p) for p in paths]
    rows["baseline"] = False
    return rows


def arm_estimates(
    rows: pd.DataFrame, stage: str, n_resamples: int, seed: int
) -> tuple[dict[str, dict[str, TaskEstimate]], dict[str, dict[str, list[dict[str, Any]]]]]:
    """Per arm and task: the estimate over the arm's seeds, and the per-seed examples it came from."""
    rows = rows[rows["stage"] == stage]
    if rows.empty:
        raise DataError(f"no evaluation rows of stage '{stage}'")
    estimates: dict[str, dict[str, TaskEstimate]] = {}
    examples: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for (arm, task), group in rows.groupby(["arm", "task"], sort=False):
        per_seed = [read_json(examples_path(p)) for p in group.sort_values("seed")["path"]]
        examples.setdefault(str(arm), {})[str(task)] = per_seed
        estimates.setdefault(str(arm), {})[str(task)] = estimate(str(task), per_seed, n_resamples, seed)
    seeds = {arm: set(g["seed"]) for arm, g in rows.groupby("arm")}
    if len({frozenset(s) for s in seeds.values()}) > 1:
        raise DataError(f"arms were scored on different replicate seeds: {seeds}")
    # Every arm is scored on every task, else averages compare different things (a baseline may
    # cover part of the categories only: it then has no averages).
    tasks = set(rows["task"])
    for arm, group in rows[~rows["baseline"]].groupby("arm", sort=False):
        missing = sorted(tasks - set(group["task"]))
        if missing:
            raise DataError(f"arm '{arm}' has no score for tasks {missing} (stage {stage})")
    return estimates, examples


def _categories(rows: pd.DataFrame) -> dict[str, str]:
    return dict(zip(rows["task"], rows["category"], strict=False))


def table_cells(
    estimates: Mapping[str, Mapping[str, TaskEstimate]], categories: Mapping[str, str]
) -> dict[str, dict[str, TaskEstimate | None]]:
    """arm -> column -> estimate (None where the arm lacks a task of that column)."""
    all_tasks = set(categories)
    order = [*CATEGORIES, *sorted(set(categories.values()) - set(CATEGORIES))]
    cells: dict[str, dict[str, TaskEstimate | None]] = {}
    for arm, per_task in estimates.items():
        row: dict[str, TaskEstimate | None] = {}
        complete = set(per_task) == all_tasks
        by_category = {}
        for category in order:
            tasks = [t for t, c in categories.items() if c == category]
            if not tasks:
                continue
            present = all(t in per_task for t in tasks)
            by_category[category] = average([per_task[t] for t in tasks]) if present else None
        row[AVG] = average(list(per_task.values())) if complete else None
        row[AVG_CATEGORIES] = average([e for e in by_category.values() if e]) if complete else None
        row.update(by_category)
        cells[arm] = row
    return cells


def write_table1(
    cells: Mapping[str, Mapping[str, TaskEstimate | None]],
    prefix: str | Path,
    *,
    caption: str,
    notes: Sequence[str],
    display_names: Mapping[str, str],
) -> list[Path]:
    columns = list(next(iter(cells.values())))
    arms = [a for a in display_names if a in cells]
    values = {c: [_scaled(cells[a][c]) for a in arms] for c in columns}
    intervals = {c: [_scaled_interval(cells[a][c]) for a in arms] for c in columns}
    frame = pd.DataFrame({"Model": [display_names[a] for a in arms], **values})
    return write_table(frame, prefix, bold_max=columns, caption=caption, notes=list(notes), intervals=intervals)


def _scaled(value: TaskEstimate | None) -> float:
    return math.nan if value is None else SCALE * value.point


def _scaled_interval(value: TaskEstimate | None) -> tuple[float, float] | None:
    if value is None:
        return None
    low, high = value.interval()
    return SCALE * low, SCALE * high


def metric_notes(rows: pd.DataFrame) -> list[str]:
    """Which metric each category reports and its number of datasets."""
    notes = []
    tasks = rows.drop_duplicates("task")
    order = {c: i for i, c in enumerate(CATEGORIES)}
    for category, group in sorted(tasks.groupby("category"), key=lambda g: order.get(str(g[0]), len(order))):
        metrics = ", ".join(sorted({METRIC_NAMES.get(str(m), str(m)) for m in group["jmteb_metric"]}))
        count = f"{len(group)} dataset{'s' if len(group) > 1 else ''}"
        notes.append(f"{category} ({count}): {metrics}.")
    return notes


def interval_note(rows: pd.DataFrame, n_resamples: int) -> str:
    seeds = sorted(set(rows["seed"]))
    level = f"replicate seeds ({', '.join(map(str, seeds))}) then " if len(seeds) > 1 else ""
    return (
        f"Cells: mean over {len(seeds)} replicate seed{'s' if len(seeds) > 1 else ''} (x100), with a 95% "
        f"bootstrap interval ({n_resamples} resamples of {level}the test examples: queries, pairs, "
        "documents; clustering: mteb's bootstrap samples of the documents)."
    )


def paired_rows(
    estimates: Mapping[str, Mapping[str, TaskEstimate]],
    examples: Mapping[str, Mapping[str, list[dict[str, Any]]]],
    display_names: Mapping[str, str],
    n_permutations: int,
    seed: int,
    pairs: Sequence[Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """For each pair of arms (`pairs`, or every two in config order) and each task both were scored
    on: A - B, its paired
    95% interval, the permutation p-value and its Holm correction over the pair's tasks; then the
    difference of the averages over datasets, with its paired two-level bootstrap interval and the
    bootstrap p-value that interval inverts (over seeds and examples alike, where the per-task
    permutation tests hold the trained models fixed)."""
    rows = []
    arms = [a for a in display_names if a in estimates]
    asked = None if pairs is None else {frozenset(pair) for pair in pairs}
    chosen = [(a, b) for a, b in combinations(arms, 2) if asked is None or {a, b} in asked]
    for a, b in chosen:
        tasks = [t for t in estimates[a] if t in estimates[b]]
        comparisons = [
            compare(t, examples[a][t], examples[b][t], estimates[a][t], estimates[b][t], n_permutations, seed)
            for t in tasks
        ]
        corrected = holm([c.p_value for c in comparisons])
        for task, comparison, p_holm in zip(tasks, comparisons, corrected, strict=True):
            rows.append(
                {
                    "A": display_names[a],
                    "B": display_names[b],
                    "task": task,
                    "A - B": SCALE * comparison.difference,
                    "low": SCALE * comparison.low,
                    "high": SCALE * comparison.high,
                    "p": comparison.p_value,
                    "p (Holm)": p_holm,
                    "test": comparison.test,
                }
            )
        if set(tasks) == set(estimates[a]) == set(estimates[b]):
            mean_a, mean_b = average([estimates[a][t] for t in tasks]), average([estimates[b][t] for t in tasks])
            diff = mean_a.replicates - mean_b.replicates
            low, high = (SCALE * x for x in TaskEstimate(0.0, diff, ()).interval())
            rows.append(
                {
                    "A": display_names[a],
                    "B": display_names[b],
                    "task": AVG,
                    "A - B": SCALE * (mean_a.point - mean_b.point),
                    "low": low,
                    "high": high,
                    "p": bootstrap_p(diff),
                    "p (Holm)": math.nan,
                    "test": "paired bootstrap (seeds and examples)",
                }
            )
    return rows


def summary(cells: Mapping[str, Mapping[str, TaskEstimate | None]]) -> dict[str, Any]:
    """Every cell as numbers (x100): mean, interval, per-seed means (what the README quotes)."""
    out: dict[str, Any] = {}
    for arm, row in cells.items():
        out[arm] = {
            column: None
            if value is None
            else {
                "mean": SCALE * value.point,
                "low": SCALE * value.interval()[0],
                "high": SCALE * value.interval()[1],
                "per_seed": [SCALE * v for v in value.per_seed],
            }
            for column, value in row.items()
        }
    return out


def with_baselines(rows: pd.DataFrame, baseline_paths: Sequence[str | Path], stage: str) -> pd.DataFrame:
    """A baseline's rows (scored once: no training, nothing random) standing for every replicate
    seed of the arms, so that it enters the same two-level bootstrap with no seed variation."""
    if not baseline_paths:
        return rows
    baselines = load_rows(baseline_paths).assign(stage=stage, baseline=True)
    copies = [baselines.assign(seed=seed) for seed in sorted(set(rows["seed"]))]
    return pd.concat([rows, *copies], ignore_index=True)


def make_table1(
    row_paths: Iterable[str | Path],
    pretrain_only_paths: Iterable[str | Path],
    baseline_paths: Sequence[str | Path],
    outputs: Mapping[str, str | Path],
    scale: str,
    display_names: Mapping[str, str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    pairs: Sequence[Sequence[str]] | None = None,
) -> None:
    """Table 1 (fine-tuned models), its pretrain-only companion, the paired comparisons of the
    fine-tuned models (`pairs` of arms, or every two), and every number of them as JSON."""
    stats_json: dict[str, Any] = {"resamples": n_resamples, "permutations": n_permutations}
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
        rows = with_baselines(load_rows(paths), list(baseline_paths), stage)
        estimates, examples = arm_estimates(rows, stage, n_resamples, seed)
        cells = table_cells(estimates, _categories(rows))
        notes = [
            f"{AVG}: mean over all datasets (JMTEB's average); {AVG_CATEGORIES}: mean over category means.",
            interval_note(rows, n_resamples),
            *metric_notes(rows),
        ]
        write_table1(
            cells,
            Path(outputs[output]).with_suffix(""),
            caption=f"{title} ({scale} scale, x100).",
            notes=notes,
            display_names=display_names,
        )
        stats_json[stage] = summary(cells)
        if stage == TABLE1_STAGE:
            paired = pd.DataFrame(paired_rows(estimates, examples, display_names, n_permutations, seed, pairs))
            write_table(
                paired,
                Path(outputs["paired_csv"]).with_suffix(""),
                digits=3,
                caption=f"Table 1, paired differences of the fine-tuned models ({scale} scale, x100).",
                notes=[
                    "A - B: difference of seed means; low, high: its 95% paired bootstrap interval (the same "
                    "resamples of seeds and examples for both arms); p: two-sided permutation p-value (the two "
                    "arms' predictions swapped example by example, jointly for every seed; clustering: the "
                    "paired bootstrap's); p (Holm): corrected across the tasks of the pair. Avg: the "
                    "difference of the averages over datasets, p from the paired two-level bootstrap (twice "
                    "the smaller share of resamples on either side of 0), so it carries seed-to-seed "
                    "variation as well as the test sets'."
                ],
            )
            stats_json["paired"] = paired.to_dict(orient="records")
    atomic_write_json(outputs["stats"], stats_json)
