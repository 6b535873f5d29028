"""Uncertainty of Table 1: intervals over test examples and replicate seeds, paired arm comparisons.

Every statistic is written once, vectorised over resamples, as a function of the task's per-example
arrays (twinarch.evaluate.examples) and an array of example indices: the same function scores the
full test set, a bootstrap resample (indices drawn with replacement) and a permutation (indices
pointing into the two arms' stacked arrays).

- Intervals: scipy.stats.bootstrap draws the example resamples (percentile method), with one
  generator seed per (task, subset), so resample b is the same draw of examples for every seed and
  every arm: intervals of differences are paired by construction. Across replicate seeds the
  bootstrap is two-level (seeds drawn with replacement, then the examples within each seed), which
  scipy does not compose: the seed level is the few lines of `across_seeds`, the only resampling
  written here.
- Paired tests: scipy.stats.permutation_test swaps the two arms' predictions example by example
  (the sign flip of a paired difference; for non-decomposable metrics, the swap of whole
  predictions: labels for macro-F1, within-arm ranks for Spearman), jointly for every seed;
  p-values are Holm-corrected across tasks with statsmodels. Clustering has no per-document unit to swap (V-measure scores a partition): its
  intervals use mteb's own bootstrap replicates and its p-value is the paired bootstrap's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from twinarch.evaluate.examples import unit_arrays

CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_PERMUTATIONS = 2000
# Resamples scored at once: bounds memory on large test sets (a classification task's one-hot
# arrays are experiments x batch x examples x classes).
BATCH = 100


# ---------------------------------------------------------------------------------------------
# Statistics of (arrays, indices): examples along the last axis of every array, resamples along
# the leading axes of `idx`; the result has idx.shape[:-1].


def mean_of(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return values[..., idx].mean(axis=-1)


def spearman_of(pred: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson's r of average ranks, ties as scipy.stats.spearmanr ranks them)."""
    x = stats.rankdata(pred[..., idx], axis=-1)
    y = stats.rankdata(gold[..., idx], axis=-1)
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=-1) / denominator


def macro_f1_of(pred: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Macro-F1 over the labels present in the gold or the predicted labels (sklearn's
    `f1_score(average="macro")`), averaged over mteb's experiments (the leading axis of `pred`)."""
    p = pred[:, idx]  # (experiments, ..., n)
    g = gold[idx]  # (..., n)
    classes = np.union1d(np.unique(pred), np.unique(gold))
    p_is = p[..., None] == classes  # (experiments, ..., n, classes)
    g_is = (g[..., None] == classes)[None]
    tp = (p_is & g_is).sum(axis=-2)
    fp = (p_is & ~g_is).sum(axis=-2)
    fn = (~p_is & g_is).sum(axis=-2)
    present = (tp + fp + fn) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / (2 * tp + fp + fn), 0.0)
    return (f1.sum(axis=-1) / present.sum(axis=-1)).mean(axis=0)


STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "per_query": mean_of,
    "pairs": spearman_of,
    "labels": macro_f1_of,
    "replicates": mean_of,
}


def statistic_of(kind: str) -> Callable[..., float]:
    """The task score of one subset's full arrays."""
    function = STATISTICS[kind]
    return lambda *arrays: float(function(*arrays, np.arange(arrays[-1].shape[-1])))


def examples_score(examples: Mapping[str, Any]) -> float:
    """A task's JMTEB metric from its per-example scores (the mean over subsets, as mteb averages them)."""
    statistic = statistic_of(examples["kind"])
    return float(np.mean([statistic(*unit_arrays(examples["kind"], s)) for s in examples["subsets"]]))


# ---------------------------------------------------------------------------------------------
# Resampling


def generator_seed(*parts: object) -> int:
    """A stable seed from names (the same task and subset resample alike in every job)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def example_replicates(kind: str, arrays: Sequence[np.ndarray], n_resamples: int, seed: int) -> np.ndarray:
    """B bootstrap replicates of one subset's statistic on one seed's predictions: examples drawn
    with replacement by scipy.stats.bootstrap (`n_resamples` draws from the generator `seed`, so the
    same draws for every arm and replicate seed of a task). Clustering's replicates are mteb's own
    document bootstrap; they are drawn from with the same seed to make B of them, paired alike."""
    if kind == "replicates":
        rng = np.random.default_rng(seed)
        return np.asarray(arrays[0], dtype=float)[rng.integers(0, len(arrays[0]), n_resamples)]
    function = STATISTICS[kind]
    n = arrays[-1].shape[-1]
    result = stats.bootstrap(
        (np.arange(n),),
        lambda idx, axis=-1: function(*arrays, idx),
        n_resamples=n_resamples,
        vectorized=True,
        batch=BATCH,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return np.asarray(result.bootstrap_distribution, dtype=float)


def across_seeds(per_seed: np.ndarray, seed: int) -> np.ndarray:
    """The outer level of the two-level bootstrap: for each replicate b, replicate seeds drawn with
    replacement, the mean of their b-th replicates. `per_seed` is (seeds, B); with one seed this is
    the example bootstrap itself. The draws depend only on (seeds, B, seed): every task and arm of a
    table shares them, so averages over tasks and differences between arms stay paired."""
    n_seeds, n_resamples = per_seed.shape
    if n_seeds == 1:
        return per_seed[0]
    draws = np.random.default_rng(seed).integers(0, n_seeds, size=(n_resamples, n_seeds))
    return per_seed[draws, np.arange(n_resamples)[:, None]].mean(axis=1)


@dataclass(frozen=True)
class TaskEstimate:
    """One arm's score on one task: the mean over seeds, and B two-level bootstrap replicates."""

    point: float
    replicates: np.ndarray
    per_seed: tuple[float, ...]

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        tail = (1 - confidence) / 2 * 100
        low, high = np.nanpercentile(self.replicates, [tail, 100 - tail])
        return float(low), float(high)


def estimate(task: str, examples_per_seed: Sequence[Mapping[str, Any]], n_resamples: int, seed: int) -> TaskEstimate:
    """A task's estimate from its examples, one mapping per replicate seed (all of one arm)."""
    kind = examples_per_seed[0]["kind"]
    subsets = [(s["subset"], s["split"]) for s in examples_per_seed[0]["subsets"]]
    per_seed_points, per_seed_reps = [], []
    for examples in examples_per_seed:
        by_name = {(s["subset"], s["split"]): s for s in examples["subsets"]}
        points, reps = [], []
        for subset in subsets:
            arrays = unit_arrays(kind, by_name[subset])
            points.append(statistic_of(kind)(*arrays))
            reps.append(example_replicates(kind, arrays, n_resamples, generator_seed(seed, task, *subset)))
        per_seed_points.append(float(np.mean(points)))
        per_seed_reps.append(np.mean(reps, axis=0))
    replicates = across_seeds(np.asarray(per_seed_reps), generator_seed(seed, "seeds"))
    return TaskEstimate(float(np.mean(per_seed_points)), replicates, tuple(per_seed_points))


def average(estimates: Sequence[TaskEstimate]) -> TaskEstimate:
    """The mean of several tasks' estimates (Table 1's averages), replicate by replicate."""
    return TaskEstimate(
        float(np.mean([e.point for e in estimates])),
        np.mean([e.replicates for e in estimates], axis=0),
        tuple(np.mean([e.per_seed for e in estimates], axis=0)),
    )


# ---------------------------------------------------------------------------------------------
# Paired comparisons


def bootstrap_p(differences: np.ndarray) -> float:
    """Two-sided p-value of a paired bootstrap distribution of A - B: twice the smaller share of
    replicates on either side of zero (the test the percentile interval inverts), counted with the
    observed ordering included ((k + 1) / (n + 1)) so that it is never 0: with n resamples nothing
    below 2 / (n + 1) is resolved. Two-level replicates carry the seed-to-seed variation too."""
    finite = differences[np.isfinite(differences)]
    tail_count = min(int(np.sum(finite <= 0)), int(np.sum(finite >= 0)))
    return min(1.0, 2 * (tail_count + 1) / (finite.size + 1))


@dataclass(frozen=True)
class Comparison:
    difference: float
    low: float
    high: float
    p_value: float
    test: str


def paired_permutation_p(
    kind: str,
    arrays_a: Sequence[Sequence[np.ndarray]],
    arrays_b: Sequence[Sequence[np.ndarray]],
    n_permutations: int,
    seed: int,
) -> float:
    """Two-sided p-value of the seed-mean difference A - B under swapping A's and B's predictions
    of each example (jointly for every seed): scipy.stats.permutation_test on example indices into
    the two arms' stacked arrays. `arrays_x[s]` are seed s's arrays (predictions first; a gold array,
    shared, last)."""
    function = STATISTICS[kind]
    n = arrays_a[0][-1].shape[-1]
    if kind == "pairs":
        # Spearman reads each arm's similarities through their ranks only, and two models' cosine
        # similarities live on different scales: swapping raw values would mix the scales and blur
        # the null distribution, so the swap exchanges ranks (same 1..n range for every arm).
        arrays_a = [(stats.rankdata(a[0]), *a[1:]) for a in arrays_a]
        arrays_b = [(stats.rankdata(b[0]), *b[1:]) for b in arrays_b]
    gold = [] if kind == "per_query" else [arrays_a[0][-1]]
    stacked = [np.concatenate([a[0], b[0]], axis=-1) for a, b in zip(arrays_a, arrays_b, strict=True)]
    gold_stacked = [np.concatenate([g, g], axis=-1) for g in gold]

    def difference(idx_a: np.ndarray, idx_b: np.ndarray, axis: int = -1) -> np.ndarray:
        per_seed = [function(pred, *gold_stacked, idx_a) - function(pred, *gold_stacked, idx_b) for pred in stacked]
        return np.mean(per_seed, axis=0)

    result = stats.permutation_test(
        (np.arange(n), np.arange(n, 2 * n)),
        difference,
        permutation_type="samples",
        vectorized=True,
        batch=BATCH,
        n_resamples=n_permutations,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def compare(
    task: str,
    a: Sequence[Mapping[str, Any]],
    b: Sequence[Mapping[str, Any]],
    estimate_a: TaskEstimate,
    estimate_b: TaskEstimate,
    n_permutations: int,
    seed: int,
) -> Comparison:
    """A - B on one task: the difference of seed means, its paired two-level bootstrap interval, and
    the permutation p-value (clustering: the paired bootstrap's)."""
    diff = estimate_a.replicates - estimate_b.replicates
    low, high = TaskEstimate(0.0, diff, ()).interval()
    kind = a[0]["kind"]
    if kind == "replicates":
        return Comparison(estimate_a.point - estimate_b.point, low, high, bootstrap_p(diff), "paired bootstrap")
    p_values = []
    for i, subset in enumerate(a[0]["subsets"]):
        arrays_a = [unit_arrays(kind, ex["subsets"][i]) for ex in a]
        arrays_b = [unit_arrays(kind, ex["subsets"][i]) for ex in b]
        key = generator_seed(seed, task, subset["subset"], subset["split"], "permutation")
        p_values.append(paired_permutation_p(kind, arrays_a, arrays_b, n_permutations, key))
    # Several subsets: the smallest p times the number of subsets (Bonferroni within the task).
    p = min(1.0, min(p_values) * len(p_values))
    return Comparison(estimate_a.point - estimate_b.point, low, high, p, "permutation (paired swap)")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-corrected p-values (statsmodels' multipletests), in the given order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), method="holm")[1]]
