"""Cluster execution: the SLURM profile, per-rule resources in the submissions, and a demo target
run end to end through Snakemake's SLURM executor plugin against the fake SLURM in
tests/fake_slurm (which runs every job on this machine and records every sbatch/srun call)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from twinarch.core.config import deep_update
from twinarch.core.resources import GROUPS, rule_resources

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
FAKE_SLURM = REPO / "tests" / "fake_slurm"


def rule_groups() -> dict[str, str]:
    """rule name -> resource group, read from the rule files (`**STAGE.resources("<group>")`)."""
    groups = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule |checkpoint )", smk.read_text()):
            name = re.match(r"(?:rule|checkpoint) (\w+):", block)
            group = re.search(r'\.resources\("(\w+)"\)', block)
            if name and group:
                groups[name.group(1)] = group.group(1)
    return groups


def effective_config(configfile: str) -> dict:
    """What the workflow sees: the Snakefile's demo config with `--configfile` merged over it."""
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return deep_update(base, yaml.safe_load((REPO / configfile).read_text()))


def planned_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job a dry run prints."""
    jobs = []
    for block in re.split(r"\n\s*\n", output):
        name = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if name:
            pairs = (item.split("=", 1) for item in res.group(1).split(", ")) if res else ()
            jobs.append((name.group(1), {k: v for k, v in pairs}))
    return jobs


def snakemake(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_profile_submits_through_slurm_and_no_profile_loads_by_itself() -> None:
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["jobs"] >= 1 and profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    assert profile["slurm-logdir"] and profile["latency-wait"] > 0 and profile["printshellcmds"] is True
    # Snakemake loads profiles/default/ on its own: it must never hold an executor (or exist).
    assert not (REPO / "profiles" / "default").exists()
    text = (PROFILE / "config.yaml").read_text()
    assert "# slurm_partition:" in text and "# slurm_account:" in text


def test_profile_is_found_by_name_after_the_documented_symlink(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text('rule a:\n    output: "a.txt"\n    shell: "touch {output}"\n')
    missing = snakemake(["-n", "--profile", "slurm"], cwd=tmp_path)
    assert missing.returncode != 0 and "no profile.yaml (or config.yaml) found" in missing.stderr
    (tmp_path / "slurm").symlink_to(PROFILE)  # docs/cluster.md: `ln -s profiles/slurm slurm`
    found = snakemake(["-n", "--profile", "slurm"], cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "Using profile slurm" in found.stderr


def stage_targets() -> list[str]:
    """The named stage targets (`rule data:`, `rule pretrain:`, ...) in pipeline order, up to the
    first stage whose rules do not exist yet (later stages need its outputs to plan a DAG). The
    tokenizer is built by the data target."""
    text = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    targets = []
    for group in GROUPS:
        if group == "tokenizer":
            continue
        if not re.search(rf"^rule {group}:", text, re.M):
            break
        targets.append(group)
    return targets


def test_paper_dry_run_through_the_profile_gives_every_rule_its_groups_resources(tmp_path: Path) -> None:
    targets = stage_targets()
    assert "data" in targets
    proc = snakemake(
        [
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--profile",
            str(PROFILE),
            "--configfile",
            str(REPO / "config" / "paper.yaml"),
            "--set-scatter",
            "shard=2",
            "-n",
            *targets,
        ],
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    config, groups = effective_config("config/paper.yaml"), rule_groups()
    jobs = [(rule, res) for rule, res in planned_jobs(proc.stdout) if rule in groups]
    assert jobs, proc.stdout[-3000:]
    for rule, printed in jobs:
        expected = rule_resources(config, groups[rule])
        for key, value in expected.items():
            assert printed.get(key) == str(value), (rule, key, printed)
        for absent in {"cpus_per_task", "cpus_per_gpu", "gpu", "gpu_model"} - set(expected):
            assert absent not in printed, (rule, absent, printed)
    planned_groups = {groups[r] for r, _ in jobs}
    assert {"data", "tokenizer"} <= planned_groups
    assert set(targets) - {"data"} <= planned_groups, "every stage's own rules are planned"


@pytest.fixture()
def fake_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment with the fake SLURM programs first on PATH and its state under tmp_path; jobs
    still running when the test ends (a failed or timed-out test) are cancelled."""
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(FAKE_SLURM), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "FAKE_SLURM_DIR": str(tmp_path / "fake_slurm_state"),
        "HF_HUB_OFFLINE": "1",
    }
    monkeypatch.setenv("FAKE_SLURM_DIR", env["FAKE_SLURM_DIR"])
    monkeypatch.syspath_prepend(str(FAKE_SLURM))
    yield env
    import fakeslurm

    if (tmp_path / "fake_slurm_state" / "jobs").is_dir():
        for job in fakeslurm.all_jobs():
            fakeslurm.end_job(job["id"], "CANCELLED", kill_wait=1.0)


def sbatch_records(env: dict[str, str]) -> list[dict]:
    path = Path(env["FAKE_SLURM_DIR"]) / "sbatch.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_demo_data_runs_through_the_slurm_executor_with_each_rules_requests(
    tmp_path: Path, shared_data: Path, fake_cluster: dict[str, str]
) -> None:
    env = fake_cluster
    proc = snakemake(
        [
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--profile",
            str(PROFILE),
            "--configfile",
            str(REPO / "config" / "config.yaml"),
            "--config",
            f"data_root={shared_data}",
            "--set-scatter",
            "shard=1",
            "--jobs",
            "4",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "1",
            "data",
        ],
        cwd=tmp_path,
        env=env,
        timeout=230,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert (tmp_path / "results" / "tokenizer" / "tokenizer_manifest.json").is_file()
    config, groups = effective_config("config/config.yaml"), rule_groups()
    submitted = sbatch_records(env)
    rules = set()
    for record in submitted:
        opts = record["options"]
        rule = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", opts["comment"]).group(1)
        rules.add(rule)
        expected = rule_resources(config, groups[rule])
        assert opts["t"] == str(expected["runtime"]), rule
        assert opts["mem"] == str(expected["mem_mb"]), rule
        assert opts["cpus-per-task"] == str(expected["cpus_per_task"]), rule
        assert "gpus" not in opts, "the demo asks for no GPU"
        assert "--signal=TERM@60" in record["argv"], "the pre-timeout warning reaches sbatch"
        assert "requeue" in opts, "the profile makes preempted jobs requeue"
        assert "--executor slurm-jobstep" in opts["wrap"]
        assert Path(opts["output"].replace("%j", record["jobid"])).is_relative_to(tmp_path / "logs" / "slurm")
    assert {"train_tokenizer", "write_shard", "gather_shards"} <= rules
    # each job ran its rule as one SLURM step (srun inside the allocation), as on a real cluster
    steps = [json.loads(line) for line in (Path(env["FAKE_SLURM_DIR"]) / "srun.jsonl").read_text().splitlines()]
    assert sorted(s["jobid"] for s in steps) == sorted(r["jobid"] for r in submitted)


COUNTER = '''
"""A resumable "training" module: checkpoints only when told to stop, resumes from it."""
import json, os, signal, sys, time
from pathlib import Path


def main(spec):
    work, rank = Path(spec["work"]), int(os.environ.get("RANK", "0"))
    ckpt = work / "checkpoint.json"
    step = json.loads(ckpt.read_text())["step"] if ckpt.exists() else 0
    if rank == 0:
        with open(work / "starts.txt", "a") as fh:
            fh.write(f"{step}\\n")
    stop = []

    def save_and_stop(signum, frame):
        # Checkpoint in the handler itself: torchrun may kill the workers soon after relaying the
        # signal, and a loop that checks a flag after its next sleep can miss that window.
        stop.append(signum)
        if rank == 0:
            ckpt.write_text(json.dumps({"step": step}))

    signal.signal(signal.SIGTERM, save_and_stop)
    while step < spec["steps"]:
        if stop:
            sys.exit(1)
        time.sleep(0.1)
        step += 1
        if rank == 0:
            (work / "progress").write_text(str(step))
    if rank == 0:
        starts = [int(s) for s in (work / "starts.txt").read_text().split()]
        Path(spec["out"]).write_text(json.dumps({"starts": starts, "steps": step}))


if __name__ == "__main__":
    from twinarch.core.launch import cli
    cli(main)
'''

RESUMABLE_WORKFLOW = """
rule train:
    output: "results/done.json"
    params: work="work/train"
    resources: runtime=30, mem_mb=1000, cpus_per_task=1, slurm_extra="--signal=TERM@600"
    script: "train.py"
"""

TRAIN_ADAPTER = """
from pathlib import Path
from twinarch.core.launch import launch

Path(snakemake.params.work).mkdir(parents=True, exist_ok=True)
launch("counter", {"work": snakemake.params.work, "out": snakemake.output[0], "steps": 40},
       Path(snakemake.params.work) / "spec.json", nproc_per_node=2)
"""


def test_job_stopped_at_its_time_limit_is_resubmitted_and_resumes(tmp_path: Path, fake_cluster: dict[str, str]) -> None:
    """The whole chain on the fake cluster: sbatch -> jobstep -> srun step -> Snakemake -> launch ->
    torchrun -> 2 workers. The time limit (SIGTERM to every process, SIGKILL 5 s later, TIMEOUT)
    comes mid-run; the workers checkpoint, the profile's retry resubmits, the job resumes."""
    (tmp_path / "Snakefile").write_text(RESUMABLE_WORKFLOW)
    (tmp_path / "train.py").write_text(TRAIN_ADAPTER)
    (tmp_path / "counter.py").write_text(COUNTER)
    env = {**fake_cluster, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src")])}
    import fakeslurm

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--profile",
            str(PROFILE),
            "--jobs",
            "1",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    progress = tmp_path / "work" / "train" / "progress"
    deadline = time.monotonic() + 90
    while not (progress.exists() and int(progress.read_text() or 0) >= 5):
        assert proc.poll() is None, proc.communicate()[0][-4000:]
        assert time.monotonic() < deadline, "the first attempt never got going"
        time.sleep(0.2)
    first = fakeslurm.all_jobs()[0]
    fakeslurm.expire(first["id"])
    output, _ = proc.communicate(timeout=150)
    assert proc.returncode == 0, output[-4000:]
    jobs = fakeslurm.all_jobs()
    assert [j["state"] for j in jobs] == ["TIMEOUT", "COMPLETED"], output[-3000:]
    assert "--attempt 2" in jobs[1]["options"]["wrap"]
    done = json.loads((tmp_path / "results" / "done.json").read_text())
    assert done["steps"] == 40
    assert done["starts"][0] == 0 and done["starts"][1] >= 5, f"the second attempt restarted: {done}"
