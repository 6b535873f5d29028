"""Input and param functions of the sensitivity stage's rules (workflow/rules/sensitivity.smk).

Paths are written in two places only, `model_path` (the measured model) and `RESULT_DIR` (a job's
outputs), and every list of files is made from `jobs`: a new wildcard in the model paths (the
coming `{seed}`) changes those lines and nothing else.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from twinarch.core.rules import ConfigRules
from twinarch.embed.config import embed_stage_names

RESULT_DIR = "results/sensitivity/{arm}/seed_{seed}/{estage}"
OUTPUTS = {"positions": "positions.parquet", "deltas": "ig_deltas.csv", "manifest": "manifest.json"}
# What the job needs of an arm: the family (encoders get no causal variant) and whether its saved
# model is meant to be bidirectional (the probe checks it). Pooling is read from the saved model.
ARM_KEYS = ("family", "bidirectional")


class SensitivityRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        # Without a `sensitivity` section the stage has no jobs.
        section = config.get("sensitivity") or {"estages": [], "seeds": []}
        wanted = set(section["estages"])
        # Training order (base first), whatever order the section lists them in.
        self.estages = [estage for estage in embed_stage_names(config) if estage in wanted]
        self.estage_pattern = "|".join(re.escape(e) for e in self.estages)
        # Which replicate seeds' models are measured: `sensitivity.seeds`, or the first seed alone
        # (every network costs minutes; the positional profile is the architecture's habit).
        self.measured_seeds = [int(s) for s in section.get("seeds") or self.seeds[:1]]
        self.jobs = [
            SimpleNamespace(arm=arm, seed=seed, estage=estage)
            for arm in section.get("arms") or self.arms
            for seed in self.measured_seeds
            for estage in self.estages
        ]
        self.threads = self.cpus("quality")

    @staticmethod
    def model_path(job: Any) -> str:
        """The saved embedding model a job measures (`job`: its wildcards, or an entry of `jobs`)."""
        return f"results/embed/{job.arm}/seed_{job.seed}/{job.estage}/model"

    @staticmethod
    def output(name: str) -> str:
        """The output pattern `name` of the measuring rule (positions, deltas, manifest)."""
        return f"{RESULT_DIR}/{OUTPUTS[name]}"

    def outputs(self, name: str) -> list[str]:
        """Output `name` of every job: the plotting rule's inputs."""
        return [self.output(name).format(**vars(job)) for job in self.jobs]

    def model(self, wildcards: Any) -> str:
        return self.model_path(wildcards)

    def section(self, wildcards: Any) -> dict[str, Any]:
        """The section without the list of stages measured: that decides which jobs exist, not what
        one computes, so adding a stage re-runs nothing."""
        return {k: v for k, v in self.config["sensitivity"].items() if k not in ("arms", "estages", "seeds")}

    def arm(self, wildcards: Any) -> dict[str, Any]:
        return self.arm_entry(wildcards.arm, ARM_KEYS)

    def text_files(self, wildcards: Any) -> list[str]:
        path = self.config["sensitivity"]["documents"].get("path")
        return [self.local_path(path)] if path else []

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Arm -> the name the figures print, in config order."""
        return {a["name"]: a["display_name"] for a in self.config["arms"]}

    def stages(self, wildcards: Any) -> list[str]:
        """Measured stages in training order: the figures' line styles follow it (last one solid)."""
        return list(self.estages)
