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

    def start_model(self, arm: str, stage: str, name: str) -> str | None:
        """The model dir (or hub id) step `name` of `stage` starts from; None: random init."""

    def jobs(self, stage: str) -> list[tuple[str, str]]:
        """(arm, step) of every step of `stage` across the arms."""


class ConfigRules:
    """What every stage's rules read from the config."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.arms = arm_names(config)

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
        return int(self.config["seed"])

    def device(self, wildcards: Any) -> dict[str, Any]:
        return dict(self.config["device"])

    def data_root(self, wildcards: Any) -> str:
        return str(self.config["data_root"])

    def scale(self, wildcards: Any) -> str:
        return str(self.config["scale"])

    def local_path(self, path: str) -> str:
        return resolve_path(self.config, path)
