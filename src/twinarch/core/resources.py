"""Per-rule cluster resources from the config (`mem_mb`, `runtime`, `gpu`, `cpus_per_gpu`, ...).

Rules declare `resources: **rule_resources("<group>")`; the numbers live in `config.resources`, so
the demo asks for little and the paper config sizes each stage. The keys are the ones the SLURM
executor plugin turns into sbatch options, so the same config drives local and cluster runs.
Partition and account are facts of a cluster, not of the study: they stay in the profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from twinarch.core.config import ConfigError

DEFAULT_GROUP = "default"
GROUPS = ("data", "tokenizer", "pretrain", "embed", "evaluate", "profile", "quality", "figures")
KEYS = ("gpu", "gpu_model", "cpus_per_gpu", "cpus_per_task", "mem_mb", "runtime", "nodes", "tasks", "slurm_extra")

# sbatch options that snakemake-executor-plugin-slurm sets itself and refuses inside slurm_extra
# (its validation.get_forbidden_slurm_options). Checked here at parse time so that a bad config
# fails on `snakemake -n` with the config key named, not at the first submission hours later;
# tests/test_resources.py keeps this list in step with the installed plugin.
FORBIDDEN_SLURM_EXTRA: dict[str, str] = {
    r"--job-name[=\s]|-J\s?": "job name",
    r"--output[=\s]|-o\s": "output file",
    r"--error[=\s]|-e\s": "error file",
    r"--parsable": "parsable output",
    r"--export[=\s]": "environment export",
    r"--comment[=\s]": "job comment",
    r"--workdir[=\s]|--chdir[=\s]|-D\s": "working directory",
    r"--account[=\s]|-A\s": "account (set slurm_account in the profile's default-resources)",
    r"--partition[=\s]|-p\s": "partition (set slurm_partition in the profile's default-resources)",
    r"--mem[=\s]": "memory (use mem_mb)",
    r"--mem-per-cpu[=\s]": "memory per CPU (use mem_mb)",
    r"--ntasks[=\s]|-n\s": "number of tasks (use tasks)",
    r"--ntasks-per-gpu[=\s]": "tasks per GPU (use tasks)",
    r"--cpus-per-task[=\s]|-c\s": "CPUs per task (use cpus_per_task)",
    r"--cpus-per-gpu[=\s]": "CPUs per GPU (use cpus_per_gpu)",
    r"--time[=\s]|-t\s": "time limit (use runtime)",
    r"--constraint[=\s]|-C\s": "node constraints",
    r"--qos[=\s]": "quality of service",
    r"--nodes[=\s]|-N\s": "number of nodes (use nodes)",
    r"--clusters[=\s]": "cluster",
    r"--gres[=\s]": "generic resources (use gpu and gpu_model)",
    r"--gpus[=\s]": "GPUs (use gpu and gpu_model)",
}


def validate_slurm_extra(extra: str, key: str = "slurm_extra") -> None:
    """Refuse sbatch options that the executor plugin manages; `key` names the config key."""
    for pattern, option in FORBIDDEN_SLURM_EXTRA.items():
        match = re.search(pattern, extra)
        if match:
            raise ConfigError(
                f"config key '{key}': '{match.group(0).strip()}' sets the {option}, which the "
                f"SLURM executor plugin sets itself; got slurm_extra '{extra}'"
            )


def rule_resources(config: Mapping[str, Any], group: str) -> dict[str, Any]:
    """`config.resources.default` overlaid with `config.resources.<group>` (missing group: defaults).

    Keys of the group replace the default's, except that
    - `slurm_extra` options are appended to the default's, so a cluster-wide option (the
      pre-timeout signal) survives a group's own extras;
    - `cpus_per_gpu` is what a GPU job asks for when it has it, `cpus_per_task` what a CPU job
      asks for: the other one is dropped (the plugin would prefer cpus_per_task, and a config
      merged over the demo's, as `--configfile` does, carries the demo's cpus_per_task);
    - `gpu_model` is dropped from jobs without GPUs (the plugin would otherwise ask for one).
    """
    if group not in GROUPS:
        raise ConfigError(f"unknown resource group '{group}'; twinarch.core.resources.GROUPS has {list(GROUPS)}")
    section = config.get("resources", {}) or {}
    default = dict(section.get(DEFAULT_GROUP, {}) or {})
    specific = dict(section.get(group, {}) or {})
    merged = {**default, **specific}
    if merged.get("gpu"):
        if merged.get("cpus_per_gpu"):
            merged.pop("cpus_per_task", None)
    else:
        merged.pop("gpu_model", None)
        merged.pop("cpus_per_gpu", None)
    extras = [e for e in (default.get("slurm_extra"), specific.get("slurm_extra")) if e]
    if extras:
        merged["slurm_extra"] = " ".join(extras)
        validate_slurm_extra(merged["slurm_extra"], key=f"resources.{group}.slurm_extra")
    nodes = int(merged.get("nodes", 1) or 1)
    gpus = int(merged.get("gpu", 0) or 0)
    if nodes > 1 and gpus % nodes:
        raise ConfigError(
            f"config key 'resources.{group}.gpu': {gpus} GPUs do not split evenly over {nodes} nodes "
            "(torchrun starts the same number of processes on every node)"
        )
    return merged


def num_nodes(resources: Mapping[str, Any]) -> int:
    """Nodes the job holds (`nodes` resource; one when unset)."""
    return max(1, int(resources.get("nodes", 1) or 1))


def processes_per_node(resources: Mapping[str, Any]) -> int:
    """One training process per GPU on each node the job holds; one when it holds no GPU."""
    return max(1, int(resources.get("gpu", 0) or 0) // num_nodes(resources))
