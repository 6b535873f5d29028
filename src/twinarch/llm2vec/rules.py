"""Input and param functions of the llm2vec stage's rules (workflow/rules/llm2vec.smk).

Each (arm, seed, step) job starts from the model the arm's lineage puts before it, which the
`Lineage` handed in resolves. Every path of the stage is made in `path`.
"""

from __future__ import annotations

import re
from typing import Any

from twinarch.core.rules import ConfigRules, Lineage
from twinarch.data.sources import corpus_input_files, resolved_corpus_specs
from twinarch.llm2vec.config import MNTP, SIMCSE, names_of_kind, run_settings, step_entry, step_kind

STAGE = "llm2vec"
# Resource groups of the two kinds (twinarch.core.resources.GROUPS): MNTP trains like pretraining,
# SimCSE like contrastive embedding training.
GROUPS = {MNTP: "pretrain", SIMCSE: "embed"}
# A wildcard constraint that matches nothing, for a kind no step of the config has.
NO_STEP = "(?!)"


class Llm2vecRules(ConfigRules):
    def __init__(self, config: Any, lineage: Lineage) -> None:
        super().__init__(config)
        self.lineage = lineage
        self.jobs = lineage.jobs(STAGE)

    def path(self, kind: str, arm: str = "{arm}", seed: int | str = "{seed}", step: str = "{step}") -> str:
        """Where a step's files go: `results` (its output folder) or `work` (checkpoints)."""
        return f"{kind}/{STAGE}/{arm}/seed_{seed}/{step}"

    def output(self, name: str) -> str:
        """One output of every rule of the stage, as a pattern (`model`, `manifest.json`, ...)."""
        return f"{self.path('results')}/{name}"

    def outputs(self, name: str, kind: str | None = None) -> list[str]:
        """One output file of every job (of one kind of step, if given)."""
        return [
            f"{self.path('results', arm, seed, step)}/{name}"
            for arm, seed, step in self.jobs
            if kind is None or step_kind(self.config, step) == kind
        ]

    def step_pattern(self, kind: str) -> str:
        """The {step} values of one kind: the two training rules share an output pattern."""
        names = names_of_kind(self.config, kind)
        return "|".join(re.escape(n) for n in names) if names else NO_STEP

    def threads(self, kind: str) -> int:
        return self.cpus(GROUPS[kind])

    def run(self, wildcards: Any) -> dict[str, Any]:
        """What shapes one (arm, step) run; editing anything else re-runs nothing."""
        return run_settings(self.config, wildcards.arm, wildcards.step, int(wildcards.seed))

    def work_dir(self, wildcards: Any) -> str:
        """Checkpoints for resuming: a param, never an output (Snakemake deletes failed outputs)."""
        return self.path("work", wildcards.arm, wildcards.seed, wildcards.step)

    def start_model(self, wildcards: Any) -> str:
        """The previous step's model directory (or a pretrained arm's hub id / local directory)."""
        start = self.lineage.start_model(wildcards.arm, STAGE, wildcards.step, wildcards.seed)
        if start is None:
            raise ValueError(f"arm '{wildcards.arm}': LLM2Vec step '{wildcards.step}' has no model to start from")
        return start

    def mntp_inputs(self, wildcards: Any) -> dict[str, str]:
        """The model the step continues from and the shards of the pretraining stage it reads."""
        shards = step_entry(self.config, wildcards.step)["shards"]
        inputs = {"shards": f"results/shards/{shards}/manifest.json"}
        start = self.start_model(wildcards)
        if start.startswith("results/"):
            inputs["init_model"] = start
        return inputs

    def corpora(self, wildcards: Any) -> dict[str, dict[str, Any]]:
        """The SimCSE step's corpora, `{data_root}` expanded: what the job reads sentences from."""
        return resolved_corpus_specs(self.config, step_entry(self.config, wildcards.step)["corpora"])

    def simcse_inputs(self, wildcards: Any) -> dict[str, Any]:
        """The model the step continues from and the local files of its corpora."""
        inputs: dict[str, Any] = {"corpora": corpus_input_files(self.corpora(wildcards))}
        start = self.start_model(wildcards)
        if start.startswith("results/"):
            inputs["init_model"] = start
        return inputs
