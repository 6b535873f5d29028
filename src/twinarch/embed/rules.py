"""Input and param functions of the embed stage's rules (workflow/rules/embed.smk).

Which model each embedding stage starts from is the arm's lineage, which the `Lineage` handed in resolves.
"""

from __future__ import annotations

import os
import re
from typing import Any

from twinarch.core.rules import ConfigRules, Lineage
from twinarch.embed.config import ARM_KEYS, EmbedSection, data_fragment, embed_stage_names, stage_fragment


class EmbedRules(ConfigRules):
    def __init__(self, config: Any, lineage: Lineage) -> None:
        super().__init__(config)
        self.lineage = lineage
        self.section = EmbedSection.from_config(config)
        self.stages = self.section.stage_names
        self.stage_pattern = "|".join(re.escape(name) for name in self.stages)
        # Every {estage} of the study, the pretrain-only "base" first.
        self.estages = embed_stage_names(config)
        self.threads = self.cpus("embed")

    def stage(self, wildcards: Any) -> dict[str, Any]:
        """What shapes the stage's training: editing it re-runs that stage (and what follows) only."""
        return stage_fragment(self.config, wildcards.estage)

    def data(self, wildcards: Any) -> dict[str, Any]:
        """What shapes the stage's contrastive datasets."""
        return data_fragment(self.config, wildcards.estage)

    def arm(self, wildcards: Any) -> dict[str, Any]:
        return self.arm_entry(wildcards.arm, ARM_KEYS)

    def base_settings(self, wildcards: Any) -> dict[str, Any]:
        return {"normalize": self.section.normalize, "max_seq_length": self.section.base_max_seq_length}

    def data_files(self, wildcards: Any) -> list[str]:
        """Local files the stage reads (synthetic ones are built by generate_synthetic_data)."""
        return [f for spec in self.section.stage(wildcards.estage).datasets for f in spec.local_files()]

    def backbone(self, wildcards: Any) -> str | None:
        """The network the pretrain-only model wraps: a workflow output, a local dir, or a hub id;
        None for a no-pretraining control, whose job draws the arm's random weights."""
        return self.lineage.start_model(wildcards.arm, "embed", "base", wildcards.seed)

    def backbone_input(self, wildcards: Any) -> list[str]:
        """The backbone as an input when it is a path (hub ids are fetched by the job itself), or
        what random weights are drawn from: the arm's model config and the shared tokenizer."""
        init = self.random_init(wildcards)
        if init is not None:
            return [init["model_config"], init["tokenizer"]]
        source = str(self.backbone(wildcards))
        return [source] if source.startswith("results/") or os.path.isdir(source) else []

    def random_init(self, wildcards: Any) -> dict[str, Any] | None:
        """How a control's random weights are drawn (None when the arm has a backbone)."""
        if self.backbone(wildcards) is not None:
            return None
        return {
            "model_config": f"results/models/{wildcards.arm}/config.json",
            "tokenizer": "results/tokenizer",
            "seed": int(wildcards.seed),
        }

    def start_model(self, wildcards: Any) -> str:
        """The model a contrastive stage continues from (the previous stage's, or base)."""
        return str(self.lineage.start_model(wildcards.arm, "embed", wildcards.estage, wildcards.seed))

    def work_dir(self, wildcards: Any) -> str:
        """Checkpoints for resuming: a param, never an output (Snakemake deletes failed outputs)."""
        return f"work/embed/{wildcards.arm}/seed_{wildcards.seed}/{wildcards.estage}"

    def manifests(self, estages: list[str] | None = None) -> list[str]:
        return [
            f"results/embed/{arm}/seed_{seed}/{estage}/manifest.json"
            for arm in self.arms
            for seed in self.seeds
            for estage in (estages or self.estages)
        ]
