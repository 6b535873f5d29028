"""The README's main job for real: the demo workflow end to end, then the cache and one-figure reruns.

Slow (several minutes on 2 cores), and part of CI all the same: it is the only test that proves every
stage chains onto the next with real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinarch.study.artifacts import ARTIFACTS


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
    return wd, cmd


@pytest.mark.slow
def test_every_paper_artifact_is_built_and_non_empty(demo_run):
    wd, _ = demo_run
    for artifact in ARTIFACTS:
        for name in artifact.files:
            path = Path(wd) / name
            assert path.is_file() and path.stat().st_size > 0, name


@pytest.mark.slow
def test_manifest_lists_every_artifact_with_provenance(demo_run):
    wd, _ = demo_run
    manifest = json.loads((Path(wd) / "results" / "manifest.json").read_text(encoding="utf-8"))
    assert {a["name"] for a in manifest["artifacts"]} == {a.name for a in ARTIFACTS}
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

    from twinarch.core.config import load_config

    wd, _ = demo_run
    config = load_config(repo_root / "config" / "config.yaml")
    table = pd.read_csv(Path(wd) / "results" / "tables" / "table1.csv")
    assert set(table.iloc[:, 0]) == {a["display_name"] for a in config["arms"]}


@pytest.mark.slow
def test_a_finished_workflow_has_nothing_left_to_do(demo_run):
    import subprocess

    wd, cmd = demo_run
    proc = subprocess.run([*cmd, "-n"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
