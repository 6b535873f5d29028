"""Reruns are exact, driven through Snakemake on a cut-down demo: an edit re-runs what depends on it,
a checkpoint of another run is never resumed, and bad input stops the study before training with
its message in the rule's log (or, where the check is cheap, at parse time)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ARM = "decoder"
WSL = f"results/embed/{ARM}/seed_0/wsl"


def tiny_demo(**edits) -> dict:
    """The demo config at the smallest size that still runs every rule of the embedding chain."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["arms"] = [a for a in config["arms"] if a["name"] == ARM]
    # One arm: the extension studies, whose sections name the demo's encoder, are left out.
    config["studies"] = []
    for section in ("prune", "sensitivity"):
        config.pop(section)
    config["seeds"] = [0]
    config["evaluate"]["baselines"] = []
    config["synthetic"].update(
        pretrain_documents=400,
        pairs_per_dataset=80,
        triplets=80,
        sts_pairs=60,
        queries=40,
        news_articles=60,
        sentiment_sentences=60,
    )
    config["tokenizer"].update(vocab_size=1500, max_chars=300_000)
    s1, s2 = config["pretrain"]["stages"]
    s1.update(token_budget=8 * 8 * 128, eval_every_steps=4, checkpoint_every_steps=4, log_every_steps=4)
    s2.update(token_budget=4 * 4 * 256, eval_every_steps=2, checkpoint_every_steps=2, log_every_steps=2)
    for stage in config["embed"]["stages"]:
        stage.update(max_rows_per_dataset=64, per_device_batch_size=16, mini_batch_size=16, save_steps=2)
    config["evaluate"]["tasks"] = [t for t in config["evaluate"]["tasks"] if t["type"] == "sts"]
    config["profile"]["baseline_arm"] = ARM
    for key, value in edits.items():
        target = config
        *path, last = key.split(".")
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return config


def snakemake(workdir: Path, config: dict, *targets: str, extra=(), env=None, check=True):
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    snakefile = ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(configfile)]
    cmd = [sys.executable, "-m", "snakemake", *snakefile, "--cores", "2", *targets, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def planned(workdir: Path, config: dict, *targets: str) -> dict[str, int]:
    """rule -> jobs a dry run would run."""
    proc = snakemake(workdir, config, *targets, extra=["-n", "--quiet", "rules"])
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.MULTILINE) if rule != "total"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("reruns")
    snakemake(workdir, tiny_demo(), f"{WSL}/manifest.json")
    return workdir


@pytest.mark.slow
def test_editing_a_wsl_setting_retrains_wsl_from_scratch_and_changes_the_model(trained):
    before = digest(trained / WSL / "model" / "model.safetensors")
    config = tiny_demo(**{"embed.stages.0.learning_rate": 5.0e-4})
    assert planned(trained, config, f"{WSL}/manifest.json") == {"train_embedding_model": 1}
    snakemake(trained, config, f"{WSL}/manifest.json")
    manifest = json.loads((trained / WSL / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["resumed_from"] is None
    assert digest(trained / WSL / "model" / "model.safetensors") != before
    log = (trained / "logs" / "train_embedding_model" / ARM / "seed_0" / "wsl.log").read_text(encoding="utf-8")
    assert "holds checkpoints of another run (the training settings changed)" in log
    assert "starting at step 0 of" in log


@pytest.mark.slow
def test_retraining_the_model_underneath_retrains_wsl_and_leaves_stage1_alone(trained):
    config = tiny_demo(**{"embed.stages.0.learning_rate": 5.0e-4, "pretrain.stages.1.learning_rate": 1.0e-3})
    stage1 = digest(trained / "results/pretrain" / ARM / "seed_0/stage1/model/model.safetensors")
    jobs = planned(trained, config, f"{WSL}/manifest.json")
    assert jobs == {"pretrain_model": 1, "build_base_embedding_model": 1, "train_embedding_model": 1}
    snakemake(trained, config, f"{WSL}/manifest.json")
    assert digest(trained / "results/pretrain" / ARM / "seed_0/stage1/model/model.safetensors") == stage1
    stage2_log = (trained / "logs" / "pretrain_model" / ARM / "seed_0" / "stage2.log").read_text(encoding="utf-8")
    assert "starting afresh" in stage2_log  # stage 2's own finished checkpoints are not this run's
    log = (trained / "logs" / "train_embedding_model" / ARM / "seed_0" / "wsl.log").read_text(encoding="utf-8")
    assert "input 'init_model' changed" in log and "starting at step 0 of" in log


@pytest.mark.slow
def test_intervals_and_thread_counts_rerun_nothing(trained):
    config = tiny_demo(
        **{
            "embed.stages.0.learning_rate": 5.0e-4,
            "pretrain.stages.1.learning_rate": 1.0e-3,
            "pretrain.stages.0.log_every_steps": 1,
            "embed.stages.0.logging_steps": 3,
            "pretrain.threads": 2,
        }
    )
    assert planned(trained, config, f"{WSL}/manifest.json") == {}


# ------------------------------------------------------------------------------ bad input


def sts_task(path: Path) -> dict:
    return {
        "name": "LocalSTS",
        "type": "sts",
        "path": str(path),
        "columns": {"sentence1": "s1", "sentence2": "s2", "score": "score"},
    }


@pytest.mark.slow
def test_a_tsv_row_with_an_extra_field_stops_the_study_before_training(tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("s1\ts2\tscore\n犬が走る\t犬が走っている\t4.5\n猫\t寝る\t犬\t1.0\n", encoding="utf-8")
    config = tiny_demo()
    config["evaluate"]["tasks"].append(sts_task(bad))
    proc = snakemake(tmp_path, config, "pretrain", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "check_inputs.log").read_text(encoding="utf-8")
    assert f"{bad}:3: 4 tab-separated fields, the header has 3" in log
    assert "evaluate.tasks[1]" in log
    assert log.rstrip().splitlines()[-1].startswith("twinarch.core.io.DataError:")
    assert not (tmp_path / "results" / "tokenizer").exists() and not (tmp_path / "results" / "pretrain").exists()


@pytest.mark.slow
def test_bytes_that_are_not_utf8_name_file_and_line_in_the_check_log(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes('{"text": "一つ目の文書。"}\n'.encode() + b'{"text": "\x82\xa0"}\n')
    config = tiny_demo()
    config["corpora"]["local_text"] = {"type": "local", "path": str(corpus)}
    config["pretrain"]["stages"][0]["corpora"].append("local_text")
    proc = snakemake(tmp_path, config, "data", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "check_inputs.log").read_text(encoding="utf-8")
    assert f"{corpus}:2: not valid UTF-8" in log


@pytest.mark.slow
def test_a_missing_evaluation_column_fails_the_dry_run_naming_file_and_key(tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("s1\tsentence2\tscore\na\tb\t1\n", encoding="utf-8")
    config = tiny_demo()
    config["evaluate"]["tasks"].append(sts_task(bad))
    proc = snakemake(tmp_path, config, extra=["-n"], check=False)
    assert proc.returncode != 0
    assert re.search(
        rf"{re.escape(str(bad))} lacks column\(s\) \['s2'\].*evaluate.tasks\[1\]", proc.stderr + proc.stdout
    )


FAULTS = textwrap.dedent(
    """
    # Fault injection for the test: a full disk when the Trainer writes a checkpoint's state, a
    # read-only file system when an embedding model is published.
    import builtins, errno, os

    _open, _replace = builtins.open, os.replace

    def open_(file, mode="r", *args, **kwargs):
        if "w" in mode and str(file).endswith("trainer_state.json") and os.environ.get("FAULT") == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return _open(file, mode, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        if "results/embed" in str(dst) and os.environ.get("FAULT") == "erofs":
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        return _replace(src, dst, *args, **kwargs)

    builtins.open, os.replace = open_, replace
    """
)


def faulty_env(tmp_path: Path, fault: str) -> dict:
    import os

    (tmp_path / "faults").mkdir(exist_ok=True)
    (tmp_path / "faults" / "sitecustomize.py").write_text(FAULTS, encoding="utf-8")
    path = os.pathsep.join([str(tmp_path / "faults"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "FAULT": fault}


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_names_the_work_directory(tmp_path):
    target = f"results/pretrain/{ARM}/seed_0/stage1/manifest.json"
    proc = snakemake(tmp_path, tiny_demo(), target, env=faulty_env(tmp_path, "enospc"), check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "pretrain_model" / ARM / "seed_0" / "stage1.log").read_text(encoding="utf-8")
    assert re.search(
        rf"OutputError: work/pretrain/{ARM}/seed_0/stage1: cannot write the checkpoints: no space left", log
    )
    assert "bytes free on its file system" in log


@pytest.mark.slow
def test_a_read_only_output_names_the_path(trained):
    env = faulty_env(trained, "erofs")
    proc = snakemake(
        trained,
        tiny_demo(),
        f"results/embed/{ARM}/seed_0/base/manifest.json",
        extra=["--forcerun=build_base_embedding_model"],
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    log = (trained / "logs" / "build_base_embedding_model" / ARM / "seed_0.log").read_text(encoding="utf-8")
    assert f"OutputError: results/embed/{ARM}/seed_0/base/model: cannot write the output: read-only file system" in log
