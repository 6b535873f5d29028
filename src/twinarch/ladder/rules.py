"""Input and param functions of the ladder stage's rules (workflow/rules/ladder.smk).

Each (arm, seed, step) cross-objective job starts from the model its lineage puts before it (the
`Lineage` handed in resolves it) and runs the pretraining script. The ladder's arms are the config's
arms of study `ladder`; the validation losses are measured on the model each arm's embedding
training starts from (`base`'s start), for the arms of every size that has a cross-objective model.
Every path the stage writes is made here.
"""

from __future__ import annotations

import re
from typing import Any

from twinarch.core.config import arm_names, get_arm
from twinarch.core.rules import ConfigRules, Lineage
from twinarch.embed.config import BASE_STAGE
from twinarch.ladder.config import (
    CROSS_ROLES,
    SHARED_MASKING_KEYS,
    STUDY,
    LadderSection,
    loss_shards,
    role,
    run_settings,
    step_entry,
    step_names,
)

STAGE = "ladder"
EMBED_STAGE = "embed"
# A wildcard constraint that matches nothing, for a config without cross-objective steps.
NO_STEP = "(?!)"
TABLES, FIGURES = "results/tables", "results/figures"


class LadderRules(ConfigRules):
    def __init__(self, config: Any, lineage: Lineage) -> None:
        super().__init__(config)
        self.lineage = lineage
        self.section = LadderSection.from_config(config)
        self.jobs = lineage.jobs(STAGE)
        names = step_names(config)
        self.step_pattern = "|".join(re.escape(n) for n in names) if names else NO_STEP
        self.threads = int(config["pretrain"]["threads"])
        self.loss_threads = self.cpus("evaluate")
        self.ladder_arms = arm_names(config, STUDY, every=False)
        self.roles = {arm: role(config, arm) for arm in self.ladder_arms}
        self.sizes = list(
            dict.fromkeys(
                get_arm(config, arm).size for arm in self.ladder_arms if self.roles[arm] in CROSS_ROLES.values()
            )
        )
        self.loss_arms = [arm for arm in self.ladder_arms if get_arm(config, arm).size in self.sizes]

    # ------------------------------------------------------------------------- paths

    def path(self, kind: str, arm: str = "{arm}", seed: int | str = "{seed}", step: str = "{step}") -> str:
        """A step's folder: `results` (its outputs) or `work` (its checkpoints)."""
        return f"{kind}/{STAGE}/{arm}/seed_{seed}/{step}"

    def output(self, name: str) -> str:
        """One output of the training rule, as a pattern (`model`, `manifest.json`, `metrics.jsonl`)."""
        return f"{self.path('results')}/{name}"

    def outputs(self, name: str) -> list[str]:
        """One output file of every cross-objective job."""
        return [f"{self.path('results', arm, seed, step)}/{name}" for arm, seed, step in self.jobs]

    def losses_path(self, arm: str = "{arm}", seed: int | str = "{seed}") -> str:
        """Both validation losses of an arm's pretrained model in one replicate."""
        return f"results/{STAGE}/{arm}/seed_{seed}/losses.json"

    def loss_files(self, wildcards: Any = None) -> list[str]:
        return [self.losses_path(arm, seed) for arm in self.loss_arms for seed in self.seeds]

    def model_configs(self) -> list[str]:
        """Every ladder arm's model config (the study's own parameter counts; the paper's table
        counts the paper's arms only)."""
        return [f"results/models/{arm}/config.json" for arm in self.ladder_arms]

    def param_counts(self, suffix: str = ".csv") -> str:
        return f"results/{STAGE}/param_counts{suffix}"

    def stats(self, wildcards: Any = None) -> str:
        """Table 1's numbers of the ladder study (make_study_table1: its arms beside the paper's)."""
        return f"{TABLES}/table1_{STUDY}_stats.json"

    def figure(self) -> list[str]:
        return [f"{FIGURES}/ladder.pdf", f"{FIGURES}/ladder.png"]

    def table(self, suffix: str = ".csv") -> str:
        return f"{TABLES}/ladder{suffix}"

    def cross_table(self, size: str, suffix: str = ".csv") -> str:
        return f"{TABLES}/ladder_cross_objective_{size}{suffix}"

    def tables(self) -> list[str]:
        """Every table file of make_ladder_tables (its declared outputs)."""
        prefixes = [self.table(""), *(self.cross_table(size, "") for size in self.sizes)]
        return [f"{prefix}{suffix}" for prefix in prefixes for suffix in (".csv", ".md", ".tex")]

    # ------------------------------------------------------------------------- training

    def start_model(self, wildcards: Any) -> str:
        """The model the step continues (the previous step's, or a pretrained arm's hub id)."""
        start = self.lineage.start_model(wildcards.arm, STAGE, wildcards.step, wildcards.seed)
        if start is None:
            raise ValueError(f"arm '{wildcards.arm}': cross-objective step '{wildcards.step}' has no model to continue")
        return start

    def inputs(self, wildcards: Any) -> dict[str, str]:
        """The shards of the step's pretraining stage, the tokenizer, the arm's model config, and the
        model the step continues (when the workflow makes it)."""
        shards = step_entry(self.config, wildcards.step)["shards"]
        inputs = {
            "shards": f"results/shards/{shards}/manifest.json",
            "validation": f"results/shards/{shards}/validation.npy",
            "tokenizer": "results/tokenizer",
            "model_config": f"results/models/{wildcards.arm}/config.json",
        }
        start = self.start_model(wildcards)
        if start.startswith("results/"):
            inputs["init_model"] = start
        return inputs

    def run(self, wildcards: Any) -> dict[str, Any]:
        """What shapes one (arm, seed, step) run; editing anything else re-runs nothing."""
        return run_settings(self.config, wildcards.arm, wildcards.step, int(wildcards.seed))

    def work_dir(self, wildcards: Any) -> str:
        """Checkpoints for resuming: a param, never an output (Snakemake deletes failed outputs)."""
        return self.path("work", wildcards.arm, wildcards.seed, wildcards.step)

    # ------------------------------------------------------------------------- losses

    def loss_model(self, wildcards: Any) -> str:
        """The arm's pretrained model: the one its embedding training starts from."""
        start = self.lineage.start_model(wildcards.arm, EMBED_STAGE, BASE_STAGE, wildcards.seed)
        if start is None:
            raise ValueError(f"arm '{wildcards.arm}' has no pretrained model")
        return start

    def loss_inputs(self, wildcards: Any) -> dict[str, str]:
        shards = loss_shards(self.config)
        inputs = {
            "shards": f"results/shards/{shards}/manifest.json",
            "validation": f"results/shards/{shards}/validation.npy",
        }
        model = self.loss_model(wildcards)
        if model.startswith("results/"):
            inputs["model"] = model
        return inputs

    def loss_arm(self, wildcards: Any) -> dict[str, Any]:
        return self.arm_entry(wildcards.arm, ("name", "family"))

    def loss_settings(self, wildcards: Any) -> dict[str, Any]:
        """How the losses are measured (the section's `losses`, its stage resolved)."""
        settings = dict((self.config.get(STUDY) or {}).get("losses") or {})
        return {**settings, "shards": loss_shards(self.config)}

    def masking(self, wildcards: Any) -> dict[str, float]:
        """Pretraining's 80/10/10 split of the masked tokens."""
        return {k: float(self.config["pretrain"][k]) for k in SHARED_MASKING_KEYS}

    # ------------------------------------------------------------------------- report

    def report_arms(self, wildcards: Any) -> list[dict[str, Any]]:
        """The ladder's arms (config order) as the figure and tables read them."""
        return [
            {**self.arm_entry(arm, ("name", "display_name", "size")), "role": self.roles[arm]}
            for arm in self.ladder_arms
        ]

    def cross_prefixes(self, wildcards: Any) -> dict[str, str]:
        """Size -> the prefix of its cross-objective table."""
        return {size: self.cross_table(size, "") for size in self.sizes}

    def mlm_probability(self, wildcards: Any) -> float:
        return float(self.section.losses.mlm_probability)
