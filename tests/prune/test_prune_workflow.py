"""The prune stage in the whole workflow: the demo's `snakemake -n prune` plans every job of the
sweep once per (arm, replicate seed), and a config whose `studies` leaves pruning out plans none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from twinarch.core.config import load_config
from twinarch.prune.config import PruneSection


def planned(proc) -> dict[str, int]:
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.MULTILINE)}


@pytest.mark.slow
def test_the_dry_run_plans_every_job_of_the_sweep(repo_root: Path, snakemake_run):
    counts = planned(snakemake_run("prune", extra=["-n"]))
    demo = load_config(repo_root / "config" / "config.yaml")
    arm_seeds = len(demo["prune"]["arms"]) * len(demo["prune"]["seeds"] or demo["seeds"])
    assert demo["prune"]["seeds"] == [0] and demo["seeds"] == [0, 1]  # the demo prunes its first replicate only
    ks, variants = len(demo["prune"]["ks"]), len(PruneSection.from_config(demo).variants)
    assert ks == 2  # the sweep at two points
    assert counts["rank_mlp_layers"] == arm_seeds
    assert counts["prune_mlp_layers"] == counts["recover_pruned_model"] == arm_seeds * ks
    assert counts["score_pruned_model"] == arm_seeds * ks * variants  # every task in one job
    singles = ("prepare_recovery_data", "time_pruned_models", "make_pruning_table", "plot_pruning_tradeoff")
    for rule in (*singles, "plot_pruning_importance"):
        assert counts[rule] == 1, rule


@pytest.mark.slow
def test_without_the_study_all_plans_no_pruning(repo_root: Path, tmp_path: Path, snakemake_run):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["studies"] = [s for s in config["studies"] if s != "pruning"]
    path = tmp_path / "no_pruning.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = snakemake_run("all", configfile=str(path), extra=["-n"], workdir=tmp_path / "run").stdout
    assert "train_embedding_model" in out and "rank_mlp_layers" not in out and "prune_mlp" not in out
