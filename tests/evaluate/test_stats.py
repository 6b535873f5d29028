"""The resampling behind Table 1's intervals and paired tests, on synthetic scores with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import f1_score

from twinarch.evaluate.stats import (
    across_seeds,
    bootstrap_p,
    compare,
    estimate,
    example_replicates,
    holm,
    macro_f1_of,
    spearman_of,
)


def per_query(values) -> dict:
    return {"kind": "per_query", "subsets": [{"subset": "default", "split": "test", "values": list(values)}]}


def pairs(pred, gold) -> dict:
    return {
        "kind": "pairs",
        "subsets": [{"subset": "default", "split": "test", "pred": list(pred), "gold": list(gold)}],
    }


def labels(pred, gold) -> dict:
    rows = [list(map(int, p)) for p in pred]
    return {
        "kind": "labels",
        "subsets": [{"subset": "default", "split": "test", "pred": rows, "gold": list(map(int, gold))}],
    }


def test_vectorised_statistics_equal_the_libraries_on_every_resample():
    rng = np.random.default_rng(0)
    gold = rng.normal(size=60)
    pred = gold + rng.normal(size=60)
    idx = rng.integers(0, 60, size=(5, 60))
    expected = [scipy_stats.spearmanr(pred[i], gold[i]).statistic for i in idx]
    assert np.allclose(spearman_of(pred, gold, idx), expected)
    classes = rng.integers(0, 3, size=80)
    experiments = np.stack([np.where(rng.random(80) < 0.7, classes, rng.integers(0, 3, 80)) for _ in range(4)])
    idx = rng.integers(0, 80, size=(6, 80))
    expected = [np.mean([f1_score(classes[i], e[i], average="macro") for e in experiments]) for i in idx]
    assert np.allclose(macro_f1_of(experiments, classes, idx), expected)


def test_one_seed_is_scipys_own_percentile_bootstrap():
    values = np.random.default_rng(1).random(50)
    replicates = example_replicates("per_query", (values,), 500, seed=7)
    reference = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=500, method="percentile", rng=np.random.default_rng(7)
    )
    assert np.allclose(np.sort(replicates), np.sort(reference.bootstrap_distribution))
    assert np.array_equal(across_seeds(replicates[None], seed=3), replicates)


def test_the_same_task_resamples_the_same_examples_for_every_arm():
    """Pairing by construction: two arms' replicate b sees the same examples."""
    a = estimate("T", [per_query(np.arange(40) / 40)], 300, seed=0)
    b = estimate("T", [per_query(np.arange(40) / 40 + 0.5)], 300, seed=0)
    assert np.allclose(b.replicates - a.replicates, 0.5)


def test_seed_variation_widens_the_interval():
    base = np.random.default_rng(2).random(200)
    same = estimate("T", [per_query(base), per_query(base), per_query(base)], 1000, seed=0)
    spread = estimate("T", [per_query(base), per_query(base + 0.1), per_query(base - 0.1)], 1000, seed=0)
    assert same.point == pytest.approx(spread.point)
    width = np.subtract(*reversed(same.interval()))
    assert np.subtract(*reversed(spread.interval())) > width + 0.05


@pytest.mark.parametrize("make", ["per_query", "pairs", "labels"])
def test_identical_systems_cover_zero_and_their_p_values_are_near_uniform(make):
    rng = np.random.default_rng(3)
    p_values, covered = [], 0
    for repeat in range(20):
        if make == "per_query":
            a, b = per_query(rng.random(80)), per_query(rng.random(80))
        elif make == "pairs":
            gold = rng.normal(size=80)
            a, b = pairs(gold + rng.normal(size=80), gold), pairs(gold + rng.normal(size=80), gold)
            b["subsets"][0]["gold"] = a["subsets"][0]["gold"]
        else:
            gold = rng.integers(0, 3, 80)
            guesses = [np.where(rng.random((3, 80)) < 0.6, gold, rng.integers(0, 3, (3, 80))) for _ in range(2)]
            a, b = labels(guesses[0], gold), labels(guesses[1], gold)
        ea, eb = estimate("T", [a], 400, repeat), estimate("T", [b], 400, repeat)
        result = compare("T", [a], [b], ea, eb, 400, repeat)
        p_values.append(result.p_value)
        covered += result.low <= 0 <= result.high
    assert covered >= 17  # a 95% interval of a null difference
    assert 0.3 < np.mean(p_values) < 0.7 and np.mean(np.asarray(p_values) < 0.05) <= 0.15


def test_a_shifted_system_is_found_with_its_interval_excluding_zero():
    rng = np.random.default_rng(4)
    base = rng.random(150)
    a, b = per_query(np.clip(base + 0.15, 0, 1)), per_query(base)
    ea, eb = estimate("T", [a], 1000, 0), estimate("T", [b], 1000, 0)
    result = compare("T", [a], [b], ea, eb, 1000, 0)
    assert result.low > 0 and result.p_value < 0.01
    gold = rng.normal(size=120)
    good, bad = pairs(gold + 0.3 * rng.normal(size=120), gold), pairs(gold + 3 * rng.normal(size=120), gold)
    result = compare("S", [good], [bad], estimate("S", [good], 1000, 0), estimate("S", [bad], 1000, 0), 1000, 0)
    assert result.low > 0 and result.p_value < 0.01


def test_the_sts_test_swaps_ranks_so_a_models_similarity_scale_does_not_matter():
    # Two models' cosine similarities live on different scales (one spread over [-1, 1], one packed
    # near 0.9). Spearman ignores scale, and so must its paired test: squeezing B's similarities into
    # [0.9, 0.901] changes neither the difference nor the p-value, and the better model is found.
    rng = np.random.default_rng(5)
    gold = rng.normal(size=150)
    a = pairs(gold + 0.8 * rng.normal(size=150), gold)
    raw_b = gold + 2.0 * rng.normal(size=150)
    b = pairs(raw_b, gold)
    squeezed = pairs(0.9 + 0.001 * (raw_b - raw_b.min()) / np.ptp(raw_b), gold)
    results = [
        compare("S", [a], [other], estimate("S", [a], 500, 0), estimate("S", [other], 500, 0), 1000, 0)
        for other in (b, squeezed)
    ]
    assert results[0].difference == pytest.approx(results[1].difference)
    assert results[0].p_value == pytest.approx(results[1].p_value)
    assert results[0].p_value < 0.01


def test_clustering_uses_mteb_replicates_and_a_paired_bootstrap_p_value():
    a = {
        "kind": "replicates",
        "subsets": [{"subset": "default", "split": "test", "replicates": [0.5, 0.52, 0.55, 0.51]}],
    }
    b = {
        "kind": "replicates",
        "subsets": [{"subset": "default", "split": "test", "replicates": [0.3, 0.31, 0.33, 0.29]}],
    }
    ea, eb = estimate("C", [a], 500, 0), estimate("C", [b], 500, 0)
    assert ea.point == pytest.approx(np.mean([0.5, 0.52, 0.55, 0.51]))
    result = compare("C", [a], [b], ea, eb, 500, 0)
    assert result.test == "paired bootstrap" and result.low > 0
    # Every resample favours A: the smallest p the resamples resolve, never 0.
    assert result.p_value == pytest.approx(2 / (len(ea.replicates) + 1))


def test_the_bootstrap_p_value_is_the_share_beyond_zero_on_the_smaller_side():
    # 3 of 999 resamples at or below 0: p = 2 (3 + 1) / 1000; a centred distribution gives p near 1.
    shifted = np.concatenate([np.full(996, 0.1), [-0.1, -0.2, 0.0]])
    assert bootstrap_p(shifted) == pytest.approx(2 * 4 / 1000)
    centred = np.random.default_rng(0).normal(0.0, 1.0, 999)
    assert bootstrap_p(centred) > 0.8
    assert bootstrap_p(np.array([np.nan, 1.0, 2.0])) == pytest.approx(2 / 3)


def test_holm_is_statsmodels_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
