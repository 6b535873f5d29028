"""The evaluate rules for real: an mteb job writes its row, Table 1 gathers the rows, and a new task
schedules only its own jobs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_evaluate import save_sentence_transformer, sts_entry

ARMS = {"encoder": "modernbert", "decoder": "llama"}


def write_config(repo_root: Path, workdir: Path, tasks: list[dict]) -> Path:
    """The demo config cut to its encoder and decoder arms and the given tasks."""
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["arms"] = [a for a in config["arms"] if a["name"] in ARMS]
    config["seeds"] = [0]
    config["evaluate"]["tasks"] = tasks
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_evaluate_and_table1_run_and_a_new_task_rescores_each_model(
    snakemake_run, repo_root, tiny_tokenizer_dir, tmp_path
):
    # Stand-ins for the embed stage's outputs; --allowed-rules keeps Snakemake from rebuilding them.
    for arm, family in ARMS.items():
        for stage in ("base", "ft"):
            model = tmp_path / "results" / "embed" / arm / "seed_0" / stage / "model"
            save_sentence_transformer(family, tiny_tokenizer_dir, model)
    sts = sts_entry(tmp_path)
    # (a flag after the rule list ends it, else argparse would take the target for a rule name)
    allowed = ["--allowed-rules", "evaluate_model", "make_table1", "--show-failed-logs"]
    proc = snakemake_run("make_table1", configfile=str(write_config(repo_root, tmp_path, [sts])), extra=allowed)
    assert re.search(r"^evaluate_model\s+4$", proc.stdout + proc.stderr, re.MULTILINE)  # one job per model

    row = json.loads((tmp_path / "results/evaluate/encoder/seed_0/ft/LocalSTS.json").read_text(encoding="utf-8"))
    assert (row["arm"], row["seed"], row["stage"], row["task"], row["category"]) == (
        "encoder",
        0,
        "ft",
        "LocalSTS",
        "STS",
    )
    assert Path(tmp_path / row["mteb_result"]).is_file()
    assert (tmp_path / "results/evaluate/encoder/seed_0/ft/LocalSTS.examples.json").is_file()
    assert (tmp_path / "logs/evaluate_model/encoder/seed_0/ft.log").is_file()
    table = pd.read_csv(tmp_path / "results/tables/table1.csv")
    config = yaml.safe_load((tmp_path / "config.yaml").read_text(encoding="utf-8"))
    assert table["Model"].tolist() == [a["display_name"] for a in config["arms"]]  # config order, names from it
    assert table.loc[0, "STS"] == pytest.approx(100 * row["jmteb_score"])
    assert table.loc[0, "STS low"] <= table.loc[0, "STS"] <= table.loc[0, "STS high"]
    assert (tmp_path / "results/tables/table1_paired.csv").is_file()

    second = dict(sts, name="LocalSTS2", max_items=20)
    configfile = write_config(repo_root, tmp_path, [sts, second])
    proc = snakemake_run("make_table1", configfile=str(configfile), extra=["-n", "--quiet", "rules", *allowed])
    counts = dict(re.findall(r"^(evaluate_model|make_table1)\s+(\d+)$", proc.stdout, re.MULTILINE))
    assert counts == {"evaluate_model": "4", "make_table1": "1"}  # each model rescored once, with every task
