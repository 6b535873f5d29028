"""Per-example scores of one model on one task: what the intervals and paired tests resample.

mteb reports one number per task; with `prediction_folder` it also keeps what the model predicted
(retrieval and reranking runs, STS similarities, classification labels per experiment, clustering
assignments). Joined with the task's gold data they give, per task type, the JMTEB metric and the
units a bootstrap draws:

- Retrieval, Reranking: nDCG@10 per query, from the run and the qrels through ir-measures (the
  pytrec_eval that mteb itself uses); the task score is their mean.
- STS: the model's cosine similarity and the gold score of each pair; the task score is their
  Spearman correlation (not a mean: a resample recomputes it).
- Classification: each test example's predicted label in each of mteb's experiments (one logistic
  regression per undersampled training set) and its gold label; the task score is the macro-F1,
  averaged over experiments.
- Clustering: V-measure is a property of a whole partition, so there is no per-document score;
  mteb already clusters bootstrap samples of the documents (with replacement) with the task's seed,
  the same samples for every model, and its per-sample V-measures are the replicates.

Each task's examples are written beside its tidy row (`<task>.examples.json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twinarch.core.io import DataError, atomic_write_json

# The metric the JMTEB harness reports for each task type (and so Table 1).
JMTEB_METRICS = {
    "Retrieval": "ndcg_at_10",
    "Reranking": "ndcg_at_10",
    "STS": "cosine_spearman",
    "Classification": "f1",
    "Clustering": "v_measure",
}
KINDS = {
    "Retrieval": "per_query",
    "Reranking": "per_query",
    "STS": "pairs",
    "Classification": "labels",
    "Clustering": "replicates",
}


def _per_query(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    import ir_measures
    from ir_measures import nDCG

    # Every judged query counts; one the model returned nothing for scores 0 (as in pytrec_eval's mean).
    values = {qid: 0.0 for qid in qrels}
    values.update({m.query_id: float(m.value) for m in ir_measures.iter_calc([nDCG @ 10], qrels, run)})
    ids = sorted(values)
    return {"ids": ids, "values": [values[q] for q in ids]}


def _subset_examples(task: Any, kind: str, predictions: Any, data: Any, result_scores: Mapping[str, Any]) -> dict:
    if kind == "per_query":
        qrels = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in data["relevant_docs"].items()}
        run = {str(q): {str(d): float(s) for d, s in docs.items()} for q, docs in predictions.items()}
        return _per_query(run, qrels)
    if kind == "pairs":
        pred, gold = list(predictions["cosine_scores"]), [float(x) for x in data["score"]]
        if len(pred) != len(gold):
            raise DataError(f"task '{task.metadata.name}': {len(pred)} predicted similarities for {len(gold)} pairs")
        return {"pred": pred, "gold": gold}
    if kind == "labels":
        gold = [int(x) for x in data[task.label_column_name]]
        experiments = [[int(x) for x in exp] for exp in predictions]
        if any(len(exp) != len(gold) for exp in experiments):
            raise DataError(f"task '{task.metadata.name}': predictions do not cover its {len(gold)} test examples")
        return {"pred": experiments, "gold": gold}
    levels = result_scores["v_measures"]
    return {"replicates": [float(v) for v in levels[sorted(levels)[0]]]}


def task_examples(task: Any, result: Any, predictions_path: str | Path) -> dict[str, Any]:
    """The per-example scores of one evaluated task (its data still loaded), from mteb's
    predictions file and TaskResult: one entry per (subset, split) mteb scored."""
    category = task.metadata.type
    if category not in KINDS:
        raise DataError(f"task '{task.metadata.name}': no per-example scores for task type {category}")
    predictions = json.loads(Path(predictions_path).read_text(encoding="utf-8"))
    subsets = []
    for split, per_subset in result.scores.items():
        for scores in per_subset:
            subset = scores["hf_subset"]
            data = task.dataset[subset][split] if subset in task.dataset else task.dataset[split]
            entry = _subset_examples(task, KINDS[category], predictions[subset][split], data, scores)
            subsets.append(
                {"subset": subset, "split": split, "mteb_score": scores.get(JMTEB_METRICS[category]), **entry}
            )
    return {"category": category, "metric": JMTEB_METRICS[category], "kind": KINDS[category], "subsets": subsets}


def unit_arrays(kind: str, subset: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """The arrays a resample draws from, examples along the last axis."""
    if kind == "per_query":
        return (np.asarray(subset["values"], dtype=float),)
    if kind == "pairs":
        return np.asarray(subset["pred"], dtype=float), np.asarray(subset["gold"], dtype=float)
    if kind == "labels":
        return np.asarray(subset["pred"], dtype=int), np.asarray(subset["gold"], dtype=int)
    return (np.asarray(subset["replicates"], dtype=float),)


def write_examples(path: str | Path, examples: Mapping[str, Any]) -> None:
    atomic_write_json(path, dict(examples))
