"""The README's main job for real: the demo workflow end to end, then the cache and one-figure reruns.

Slow (several minutes on 2 cores), and part of CI all the same: it is the only test that proves every
stage chains onto the next with real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinarch.study.artifacts import selected
from twinarch.study.checks import load_config

REPO = Path(__file__).resolve().parents[2]
# The module's first test builds the demo (the fixture runs in its setup, which pytest-timeout counts):
# about 30 minutes of its 195 jobs on 2 cores (beside other tests), against the suite's 15-minute default.
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, shared_data, repo_root):
    import subprocess
    import sys

    wd = tmp_path_factory.mktemp("demo")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo_root / "Snakefile"),
        "--directory",
        str(wd),
        "--configfile",
        str(repo_root / "config" / "config.yaml"),
        "--cores",
        "2",
        "all",
        "results/manifest.json",
        # last: --config takes every following word as a key=value pair
        "--config",
        f"data_root={shared_data}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"demo workflow failed:\n{proc.stderr[-12000:]}")
    assert "forkserver:" not in proc.stderr  # no job fell back to a cold start: warm, as `make demo` runs
    return wd, cmd


@pytest.mark.slow
def test_every_paper_artifact_is_built_and_non_empty(demo_run):
    wd, _ = demo_run
    for artifact in selected(load_config(REPO / "config" / "config.yaml")["studies"]):
        for name in artifact.files:
            path = Path(wd) / name
            assert path.is_file() and path.stat().st_size > 0, name


@pytest.mark.slow
def test_manifest_lists_every_artifact_with_provenance(demo_run):
    wd, _ = demo_run
    manifest = json.loads((Path(wd) / "results" / "manifest.json").read_text(encoding="utf-8"))
    studies = load_config(REPO / "config" / "config.yaml")["studies"]
    assert {a["name"] for a in manifest["artifacts"]} == {a.name for a in selected(studies)}
    assert manifest["libraries"]["torch"].startswith("2.13")
    for entry in manifest["artifacts"]:
        assert len(entry["config_hash"]) == 16 and all(f["sha256"] for f in entry["files"])


@pytest.mark.slow
def test_every_rule_wrote_a_log(demo_run):
    wd, _ = demo_run
    logs = list((Path(wd) / "logs").rglob("*.log"))
    assert logs and all(p.stat().st_size > 0 for p in logs)


@pytest.mark.slow
def test_table1_rows_are_the_configured_arms(demo_run, repo_root):
    import pandas as pd

    wd, _ = demo_run
    config = load_config(repo_root / "config" / "config.yaml")
    table = pd.read_csv(Path(wd) / "results" / "tables" / "table1.csv")
    # The paper's arms and the controls, then the baselines (a study's arms have their own Table 1).
    arms = [a["display_name"] for a in config["arms"] if not a.get("study")]
    names = arms + [b["display_name"] for b in config["evaluate"]["baselines"]]
    assert list(table.iloc[:, 0]) == names
    paired = pd.read_csv(Path(wd) / "results" / "tables" / "table1_paired.csv")
    assert len(paired) > 0 and paired["p"].dropna().between(0, 1).all()  # the demo's two seeds make the paired table


@pytest.mark.slow
def test_a_finished_workflow_has_nothing_left_to_do(demo_run):
    import subprocess

    wd, cmd = demo_run
    proc = subprocess.run([*cmd, "-n"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def planned_after_edit(demo_run, tmp_path, edit) -> dict[str, int]:
    """rule -> jobs a dry run plans after `edit` changes a copy of the demo config."""
    import re
    import subprocess

    import yaml

    wd, cmd = demo_run
    repo_config = Path(cmd[cmd.index("--configfile") + 1])
    config = yaml.safe_load(repo_config.read_text(encoding="utf-8"))
    edit(config)
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    dry = [*cmd[: cmd.index("--configfile")], "--configfile", str(edited), *cmd[cmd.index("--configfile") + 2 :]]
    dry = [*dry[: dry.index("--config")], "-n", "--quiet", "rules", *dry[dry.index("--config") :]]
    proc = subprocess.run(dry, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r: int(n) for r, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.MULTILINE) if r != "total"}


@pytest.mark.slow
def test_renaming_an_arm_remakes_only_tables_and_figures(demo_run, tmp_path):
    def rename(config):
        config["arms"][0]["display_name"] = "A new name for the table"

    jobs = planned_after_edit(demo_run, tmp_path, rename)
    reports = {"make_table1", "make_table2", "plot_fig2", "plot_fig3", "plot_fig4", "plot_learning_curves"}
    reports |= {"make_pretrain_loss_table"}
    # The demo's studies show the renamed arm too: their tables and figures, and nothing they train or score.
    studies = {"make_study_table1", "make_pruning_table", "plot_pruning_tradeoff", "plot_pruning_importance"}
    studies |= {"make_ladder_tables", "plot_ladder"}  # the encoder is the ladder's demo-tiny rung too
    assert set(jobs) - {"write_manifest", "all"} == reports | studies | {"plot_sensitivity"}, jobs


@pytest.mark.slow
def test_editing_stage2_reruns_stage2_and_what_follows_never_stage1(demo_run, tmp_path):
    def edit(config):
        config["pretrain"]["stages"][1]["learning_rate"] = 1.0e-4

    jobs = planned_after_edit(demo_run, tmp_path, edit)
    config = load_config(REPO / "config" / "config.yaml")
    seeds = len(config["seeds"])
    pretrained = sum(1 for a in config["arms"] if a["steps"] and not a.get("extends")) * seeds
    # Every arm whose lineage runs through stage 2 (the LLM2Vec arms extend the decoder; controls have none).
    downstream = sum(1 for a in config["arms"] if a["steps"]) * seeds
    assert jobs["pretrain_model"] == pretrained  # stage 2 of every pretrained arm and seed; stage 1 stays
    assert jobs["train_embedding_model"] == len(config["embed"]["stages"]) * downstream
    assert jobs["train_mntp"] == jobs["train_simcse"] == seeds and "write_model_config" not in jobs
    assert "profile_arms" not in jobs and "train_tokenizer" not in jobs
