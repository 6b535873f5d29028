"""Input and param functions of the pretrain stage's rules (workflow/rules/pretrain.smk).

What each (arm, seed, stage) job starts from is the arm's lineage, which the `Lineage` handed in
resolves; the first stage of an arm trained from scratch draws its seeded random weights itself.
"""

from __future__ import annotations

from typing import Any

from twinarch.core.config import get_arm
from twinarch.core.rules import ConfigRules, Lineage
from twinarch.pretrain.config import run_settings, stage_names

# What the learning-curve figure prints of each arm.
CURVE_ARM_KEYS = ("name", "display_name", "objective")
STAGE = "pretrain"


class PretrainRules(ConfigRules):
    def __init__(self, config: Any, lineage: Lineage) -> None:
        super().__init__(config)
        self.lineage = lineage
        self.threads = int(config["pretrain"]["threads"])
        self.jobs = lineage.jobs(STAGE)
        self.stage_pattern = "|".join(stage_names(config))

    def models(self, wildcards: Any) -> dict[str, Any]:
        """The `models` section: editing it rebuilds every model config (and what depends on them)."""
        return dict(self.config["models"])

    def init_from(self, wildcards: Any) -> str | None:
        """The hub id or local directory of a pretrained arm (`{data_root}` expanded), else None."""
        arm = get_arm(self.config, wildcards.arm)
        return self.local_path(arm.init_from) if arm.init_from else None

    def model_config_tokenizer(self, wildcards: Any) -> list[str]:
        """Scratch arms are built on the shared tokenizer; pretrained arms bring their own."""
        return [] if get_arm(self.config, wildcards.arm).init == "pretrained" else ["results/tokenizer"]

    def model_config_arm(self, wildcards: Any) -> dict[str, Any]:
        return self.arm_entry(wildcards.arm, ("name", "family", "size", "init"))

    def inputs(self, wildcards: Any) -> dict[str, str]:
        """Shards and tokenizer of the stage, the arm's model config, and the model the stage
        continues from (none for the first stage of an arm trained from scratch: the job draws the
        arm's random weights from its model config and the replicate seed)."""
        inputs = {
            "shards": f"results/shards/{wildcards.stage}/manifest.json",
            "validation": f"results/shards/{wildcards.stage}/validation.npy",
            "tokenizer": "results/tokenizer",
            "model_config": f"results/models/{wildcards.arm}/config.json",
        }
        start = self.lineage.start_model(wildcards.arm, STAGE, wildcards.stage, wildcards.seed)
        if start:
            inputs["init_model"] = start
        return inputs

    def run(self, wildcards: Any) -> dict[str, Any]:
        """What shapes one (arm, seed, stage) run; editing anything else re-runs nothing."""
        arm = get_arm(self.config, wildcards.arm).__dict__
        return run_settings(self.config, arm, wildcards.stage, int(wildcards.seed))

    def work_dir(self, wildcards: Any) -> str:
        """Checkpoints for resuming: a param, never an output (Snakemake deletes failed outputs)."""
        return f"work/pretrain/{wildcards.arm}/seed_{wildcards.seed}/{wildcards.stage}"

    def stage_names(self, wildcards: Any) -> list[str]:
        return stage_names(self.config)

    def curve_arms(self, wildcards: Any) -> list[dict[str, Any]]:
        return [self.arm_entry(name, CURVE_ARM_KEYS) for name in self.core_arms]

    def model_configs(self) -> list[str]:
        """The paper's arms' model configs (the parameter-count table)."""
        return [f"results/models/{arm}/config.json" for arm in self.core_arms]

    def outputs(self, name: str) -> list[str]:
        """One output file of every pretraining job (`manifest.json`, `metrics.jsonl`)."""
        return [f"results/pretrain/{arm}/seed_{seed}/{stage}/{name}" for arm, seed, stage in self.jobs]

    def core_outputs(self, name: str) -> dict[str, str]:
        """One output file of each pretraining job of the paper's arms, keyed `arm/seed/stage`."""
        return {
            f"{arm}/{seed}/{stage}": f"results/pretrain/{arm}/seed_{seed}/{stage}/{name}"
            for arm, seed, stage in self.jobs
            if arm in self.core_arms
        }

    def metrics(self, wildcards: Any) -> dict[str, str]:
        """Every pretraining job's learning curve, keyed `arm/seed/stage`."""
        return self.core_outputs("metrics.jsonl")

    def loss_table_inputs(self, wildcards: Any) -> dict[str, Any]:
        """Every pretraining job's manifest (keyed `arm/seed/stage`) and each stage's shards manifest."""
        shards = [f"results/shards/{stage}/manifest.json" for stage in stage_names(self.config)]
        return {**self.core_outputs("manifest.json"), "shards": shards}

    def eval_max_blocks(self, wildcards: Any) -> int:
        """The validation blocks every pretraining job evaluates on (the unigram reference reads the same)."""
        return int(self.config["pretrain"]["eval_max_blocks"])
