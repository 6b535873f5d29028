"""The profile and quality rules in a real workflow run, on planted upstream files, and the rerun that
touching one plot script causes (that figure only)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml
from tiny_models import save_tiny_pretrained, tiny_arm

from twinarch.core.io import atomic_write_jsonl, iter_jsonl
from twinarch.embed.model import build_embedding_model, save_embedding_model

ARMS = ["encoder", "decoder"]
FAMILY = {"encoder": "modernbert", "decoder": "llama"}
# Only this stage's rules run: the upstream files are planted, as their own stages would write them.
ALLOWED = [
    "profile_arms",
    "make_table2",
    "plot_fig3",
    "plot_fig4",
    "profile",
    "measure_quality",
    "plot_fig2",
    "quality",
]


def scheduled_rules(stdout: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):", stdout, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def test_config(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo config with two arms, one torch thread and a smaller grid (the cores are shared)."""
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["arms"] = [a for a in config["arms"] if a["name"] in ARMS]
    config["seeds"] = [0]
    config["profile"].update(
        seq_lens=[16, 32],
        batch_sizes=[2, 4],
        timed_iters=1,
        rounds=1,
        threads=1,
        table2_cell={"seq_len": 32, "batch_size": 4},
    )
    config["quality"]["estages"] = ["ft"]  # one stage per arm: the rule is the same for every stage
    config["quality"]["positive_pairs"]["max_rows"] = 20
    config["quality"]["random_texts"]["max_rows"] = 20
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def plant_upstream(wd: Path, tokenizer_dir: Path, shared_data: Path) -> None:
    synthetic = wd / "results" / "data" / "synthetic"
    passages = [row for _, row in zip(range(40), iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl"))]
    sts = [row for _, row in zip(range(200), iter_jsonl(shared_data / "jglue" / "jsts_valid.json"))]
    atomic_write_jsonl(synthetic / "synthetic_pretrain.jsonl", [{"id": p["pid"], "text": p["text"]} for p in passages])
    atomic_write_jsonl(synthetic / "synthetic_passages.jsonl", passages)
    atomic_write_jsonl(synthetic / "synthetic_sts.jsonl", sts)
    shutil.copytree(tokenizer_dir, wd / "results" / "tokenizer")
    for arm in ARMS:
        pretrained = save_tiny_pretrained(FAMILY[arm], tokenizer_dir, wd / "pretrained" / arm)
        (wd / "results" / "models" / arm).mkdir(parents=True)
        shutil.copy(pretrained / "config.json", wd / "results" / "models" / arm / "config.json")
        model = build_embedding_model(pretrained, tiny_arm(FAMILY[arm], name=arm), max_seq_length=64, normalize=False)
        save_embedding_model(model, wd / "results" / "embed" / arm / "seed_0" / "ft" / "model")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_tokenizer_dir, shared_data, test_config, repo_root):
    import subprocess
    import sys

    wd = tmp_path_factory.mktemp("profile_wd")
    plant_upstream(wd, tiny_tokenizer_dir, shared_data)

    def run(*extra: str) -> subprocess.CompletedProcess:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(repo_root / "Snakefile"),
            "--directory",
            str(wd),
            "--configfile",
            str(test_config),
            "--cores",
            "2",
            "--config",
            f"data_root={shared_data}",
            "--allowed-rules",
            *ALLOWED,
            *extra,
            "--",
            "profile",
            "quality",
        ]
        return subprocess.run(cmd, capture_output=True, text=True)

    proc = run()
    if proc.returncode != 0:
        pytest.fail(f"profile/quality workflow failed:\n{proc.stderr[-8000:]}")
    return wd, run


@pytest.mark.slow
def test_profile_and_quality_targets_build_every_artifact(finished_run):
    wd, _ = finished_run
    expected = [f"results/profile/{a}.csv" for a in ARMS]
    expected += [f"results/quality/{a}/seed_0/ft.json" for a in ARMS]
    expected += [f"results/tables/table2.{s}" for s in ("csv", "md", "tex")]
    expected += [
        f"results/figures/{f}.{s}"
        for f in ("fig2_alignment_uniformity", "fig3_throughput", "fig4_memory")
        for s in ("pdf", "png")
    ]
    for name in expected:
        assert (wd / name).is_file() and (wd / name).stat().st_size > 0, name
    assert "Speedup vs decoder" in (wd / "results/tables/table2.md").read_text(encoding="utf-8")
    assert (wd / "logs/profile_arms.log").is_file()


@pytest.mark.slow
def test_touching_one_plot_script_reschedules_only_that_figure(finished_run, repo_root):
    _, run = finished_run
    assert scheduled_rules(run("-n").stdout) == set()
    script = repo_root / "workflow" / "scripts" / "plot_fig3.py"
    before = script.stat()
    try:
        # newer than every output, however old the checkout is
        os.utime(script, (before.st_atime, time.time() + 3600))
        rules = scheduled_rules(run("-n").stdout)
    finally:
        os.utime(script, (before.st_atime, before.st_mtime))
    # `profile` is the target rule (no outputs) that collects the figure.
    assert rules == {"plot_fig3", "profile"}
