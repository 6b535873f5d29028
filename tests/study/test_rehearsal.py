"""A rehearsal of the paper scale: config/paper.yaml, its hub ids read from a local mirror of every
hub repository it names (tests/rehearsal/mirror.py) and its sizes and budgets cut to toy scale
(tests/rehearsal/substitutions.py), run end to end with Snakemake's target `all`.

The rehearsal takes the paper config's own code paths: hub corpora streamed by `datasets`, the Ruri
subsets read as dataset configs, MIRACL's nested positives, a pretrained decoder and its tokenizer
loaded by hub id, the JMTEB(v2) task classes scoring mirrored task data. It is offline
(HF_HUB_OFFLINE), so a hub id that does not go through the mirror fails the run, and a code path
that only hub data takes (the one that raised NameError on the first row of any hub corpus) fails it
too. Slow (minutes), and part of CI all the same: no other test runs the paper config's jobs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rehearsal.mirror import MirrorBuilder
from rehearsal.substitutions import BENCHMARK_TASKS, changed_keys, leaves, rehearsal_config, substituted

from twinarch.core.hub import HUB_ID
from twinarch.study.artifacts import selected

RULE_LINE = re.compile(r"^(?:local)?rule (\w+):$", re.MULTILINE)
JOB_STATS_ROW = re.compile(r"^(\w+)\s+\d+$", re.MULTILINE)


def snakemake(repo_root: Path, workdir: Path, configfile: Path, *args: str, env: dict | None = None):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo_root / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def paper_config(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "config" / "paper.yaml").read_text(encoding="utf-8"))


def hub_ids(config: dict) -> set[str]:
    """Every string of the config shaped like a hub id (org/name) that is no file of the repository."""
    root = Path(__file__).resolve().parents[2]
    return {v for _, v in leaves(config) if isinstance(v, str) and HUB_ID.fullmatch(v) and not (root / v).exists()}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, shared_data, repo_root):
    root = tmp_path_factory.mktemp("rehearsal")
    mirror = MirrorBuilder(root / "hub", shared_data).build()
    config = rehearsal_config(paper_config(repo_root), mirror)
    configfile = root / "rehearsal.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    workdir = root / "run"
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(root / "datasets_cache")}
    proc = snakemake(repo_root, workdir, configfile, "all", env=env)
    if proc.returncode != 0:
        pytest.fail(f"the rehearsal failed:\n{proc.stderr[-12000:]}")
    return config, workdir, proc


def test_the_rehearsal_changes_only_hub_locations_sizes_and_budgets(repo_root, tmp_path):
    paper = paper_config(repo_root)
    config = rehearsal_config(paper, tmp_path)
    assert hub_ids(config) == hub_ids(paper)
    assert {"sbintuitions/sarashina2.2-0.5b", "cl-nagoya/ruri-v3-dataset-ft", "miracl/miracl"} <= hub_ids(paper)
    unexpected = sorted(k for k in changed_keys(paper, config) if not substituted(k))
    assert not unexpected, f"the rehearsal changes more than sizes and budgets: {unexpected}"


@pytest.mark.slow
def test_every_rule_of_the_paper_dag_runs(rehearsal, repo_root, tmp_path):
    _, _, proc = rehearsal
    dry = snakemake(repo_root, tmp_path, repo_root / "config" / "paper.yaml", "all", "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    paper_rules = set(JOB_STATS_ROW.findall(dry.stdout)) - {"total", "job"}
    ran = set(RULE_LINE.findall(proc.stdout + proc.stderr))
    assert paper_rules and paper_rules <= ran, f"rules of the paper DAG that never ran: {sorted(paper_rules - ran)}"


@pytest.mark.slow
def test_every_paper_artifact_is_built(rehearsal):
    _, workdir, _ = rehearsal
    for artifact in selected():  # the paper's artifacts (no extension study listed)
        for name in artifact.files:
            path = workdir / name
            assert path.is_file() and path.stat().st_size > 0, name


@pytest.mark.slow
def test_every_hub_id_was_read_from_the_mirror(rehearsal, repo_root):
    """Each hub id of the paper config, and the data of each scored JMTEB task, came from the mirror
    (the offline run would have failed otherwise; the logs say which copy each job read)."""
    import mteb

    config, workdir, _ = rehearsal
    logs = "\n".join(p.read_text(encoding="utf-8") for p in (workdir / "logs").rglob("*.log"))
    tasks = {t.metadata.name: t for t in mteb.get_benchmark(config["evaluate"]["benchmark"]).tasks}
    wanted = hub_ids(paper_config(repo_root)) | {tasks[name].metadata.dataset["path"] for name in BENCHMARK_TASKS}
    unread = sorted(h for h in wanted if f"hub id {h}: reading the mirror's copy" not in logs)
    assert not unread, unread


@pytest.mark.slow
def test_models_are_scored_at_the_papers_length(rehearsal):
    config, workdir, _ = rehearsal
    logs = [p.read_text(encoding="utf-8") for p in (workdir / "logs").rglob("evaluate_*/**/*.log")]
    length = config["evaluate"]["max_seq_length"]
    assert logs and all(f"max_seq_length {length}," in text for text in logs)


@pytest.mark.slow
def test_table1_has_every_arm_and_the_scored_categories(rehearsal):
    import pandas as pd

    config, workdir, _ = rehearsal
    table = pd.read_csv(workdir / "results" / "tables" / "table1.csv")
    assert set(table.iloc[:, 0]) == {a["display_name"] for a in config["arms"] if not a.get("study")}
    assert {"STS", "Clustering", "Classification", "Retrieval"} <= set(table.columns)
