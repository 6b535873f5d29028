"""The workflow's view of a config: objects whose methods are Snakemake input and param functions.

A rule file holds no logic: `params: arm=EMBED.arm` hands Snakemake a bound method that takes the
job's wildcards and returns a config fragment or a list of files. Each stage's `rules` module
subclasses `ConfigRules`; the methods are plain functions of (config, wildcards), unit-tested
without Snakemake. Nothing here imports a heavy library: the Snakefile builds these at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from twinarch.core.config import arm_fragment, arm_names, resolve_path
from twinarch.core.resources import rule_resources


class Lineage(Protocol):
    """What a stage's rules ask of an arm's lineage (`twinarch.study.rules.StudyLineage` answers):
    stages never import `study`, the Snakefile hands them this object."""

    def start_model(self, arm: str, stage: str, name: str, seed: int | str) -> str | None:
        """The model dir (or hub id) step `name` of `stage` starts from in replicate `seed`;
        None for an arm's `init` step, which starts from its model config."""

    def model_dir(self, arm: str, stage: str, name: str, seed: int | str) -> str:
        """Where step `name` of `stage` writes its model in replicate `seed`."""

    def jobs(self, stage: str) -> list[tuple[str, int, str]]:
        """(arm, seed, step) of every step of `stage` across the arms and replicate seeds."""


class ConfigRules:
    """What every stage's rules read from the config."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.arms = arm_names(config)
        # The paper's own comparison: what Table 1, Table 2 and Figures 2-4 show (study arms have
        # their own tables).
        self.core_arms = arm_names(config, None, every=False)
        self.seeds = [int(s) for s in config["seeds"]]
        self.seed_pattern = "|".join(str(s) for s in self.seeds)

    def resources(self, group: str) -> dict[str, Any]:
        """Resources of one rule group (`mem_mb`, `runtime`, `gpu`, ...), from config.resources."""
        return rule_resources(self.config, group)

    def cpus(self, group: str) -> int:
        """CPU threads of a job of `group`: the group's cpus_per_task (torch would otherwise take
        every core and spin against the other jobs)."""
        return int(self.resources(group).get("cpus_per_task", 1))

    def arm_entry(self, name: str, keys: tuple[str, ...]) -> dict[str, Any]:
        """The keys of one arm that shape a job's output (its param)."""
        return arm_fragment(self.config, name, keys)

    def seed(self, wildcards: Any) -> int:
        """The data seed (synthetic data, shards, splits, data caps, the evaluation protocol): the
        same for every replicate."""
        return int(self.config["seed"])

    def replicate_seed(self, wildcards: Any) -> int:
        """The replicate seed of a training job (initialisation, data order, masking, sampling)."""
        return int(wildcards.seed)

    def device(self, wildcards: Any) -> dict[str, Any]:
        return dict(self.config["device"])

    def data_root(self, wildcards: Any) -> str:
        return str(self.config["data_root"])

    def scale(self, wildcards: Any) -> str:
        return str(self.config["scale"])

    def local_path(self, path: str) -> str:
        return resolve_path(self.config, path)
