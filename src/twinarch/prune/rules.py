"""Input and param functions of the prune stage's rules (workflow/rules/prune.smk).

The models of every replicate seed, or of `prune.seeds`, are pruned
(`results/prune/<arm>/seed_<n>/<from_stage>/...`). Every file
the stage writes is named by `path`, and the files it reads of other stages (the unpruned model,
through the lineage, and its scores) by `unpruned`: a new wildcard of model paths changes these two
methods. Without a `prune` section the stage has no jobs.
"""

from __future__ import annotations

import os
import re
from typing import Any

from twinarch.core.rules import ConfigRules, Lineage
from twinarch.embed.config import ARM_KEYS
from twinarch.evaluate.config import evaluation_task_names, task_entry, task_input_files
from twinarch.evaluate.rules import TABLE_ONLY_KEYS
from twinarch.profile.config import REPORT_KEYS
from twinarch.prune.config import FROM_STAGE, PruneSection, check_prune_section, pruned_stage

ROOT = "results/prune"


class PruneRules(ConfigRules):
    def __init__(self, config: Any, lineage: Lineage) -> None:
        super().__init__(config)
        check_prune_section(config)
        self.lineage = lineage
        section = PruneSection.from_config(config)
        self.enabled = section is not None
        self.section = section or PruneSection(arms=(), from_stage=FROM_STAGE, ks=(), calibration={}, recovery={})
        self.arms = list(self.section.arms)
        self.ks = list(self.section.ks)
        self.variants = list(self.section.variants)
        # The replicates pruned: `prune.seeds`, else every seed (the table's intervals cover those).
        self.pruned_seeds = list(self.section.seeds or self.seeds)
        self.tasks = evaluation_task_names(config) if self.enabled else []
        self.k_pattern = "|".join(str(k) for k in self.ks) or "$^"
        self.variant_pattern = "|".join(self.variants) or "$^"
        self.task_pattern = "|".join(re.escape(t) for t in self.tasks) or "$^"
        self.rank_threads = self.cpus("quality")
        self.recover_threads = self.cpus("embed")
        self.score_threads = self.cpus("evaluate")
        # Every core unless the profile section says otherwise, as for Table 2.
        self.speed_threads = int(config["profile"]["threads"] or os.cpu_count() or 1)

    # ------------------------------------------------------------------------- paths

    def path(self, name: str, arm: str | None = None, seed: int | str | None = None, k: int | str | None = None) -> str:
        """Every file the stage writes: stage-wide (no arm), an arm's ranking in one replicate (no k),
        or a file of its k-sweep. Wildcards ("{arm}", "{seed}", "{k}") or values."""
        if arm is None:
            return f"{ROOT}/{name}"
        base = f"{ROOT}/{arm}/seed_{seed}/{self.section.from_stage}"
        return f"{base}/{name}" if k is None else f"{base}/drop{k}/{name}"

    def unpruned(self, arm: str, seed: int | str, task: str | None = None) -> str:
        """The replicate's `prune.from_stage` embedding model (the k = 0 model of the sweep), or its
        tidy evaluation row of `task` (the evaluate stage's)."""
        if task is None:
            return self.lineage.model_dir(arm, "embed", self.section.from_stage, seed)
        return f"results/evaluate/{arm}/seed_{seed}/{self.section.from_stage}/{task}.json"

    def source_model(self, wildcards: Any) -> str:
        """The embedding model that is pruned."""
        return self.unpruned(wildcards.arm, wildcards.seed)

    # ------------------------------------------------------------------------- params

    def arm(self, wildcards: Any) -> dict[str, Any]:
        return self.arm_entry(wildcards.arm, ARM_KEYS)

    def k(self, wildcards: Any) -> int:
        return int(wildcards.k)

    def calibration(self, wildcards: Any) -> dict[str, Any]:
        return dict(self.section.calibration)

    def calibration_files(self, wildcards: Any) -> list[str]:
        return [self.local_path(s["path"]) for s in self.section.calibration["texts"] if s.get("path")]

    def recovery(self, wildcards: Any) -> dict[str, Any]:
        """What shapes recovery training: editing it re-trains every recovered model, nothing else."""
        return self.section.recovery_fragment()

    def recovery_data(self, wildcards: Any) -> dict[str, Any]:
        return self.section.recovery_data_fragment()

    def recovery_files(self, wildcards: Any) -> list[str]:
        """Local files the recovery datasets read (synthetic ones are made by the data stage)."""
        return [f for spec in self.section.recovery_stage(self.config).datasets for f in spec.local_files()]

    def work_dir(self, wildcards: Any) -> str:
        """Checkpoints of recovery training: a param, never an output (Snakemake deletes failed outputs)."""
        return f"work/prune/{wildcards.arm}/seed_{wildcards.seed}/{self.section.from_stage}/drop{wildcards.k}"

    def task_entries(self, wildcards: Any) -> list[dict[str, Any]]:
        """Every evaluation task's config fragment, in the order of `score_outputs`."""
        return [task_entry(self.config, t) for t in self.tasks]

    def task_files(self, wildcards: Any) -> list[str]:
        return list(dict.fromkeys(f for t in self.tasks for f in task_input_files(self.config, t)))

    def score_outputs(self, suffix: str) -> list[str]:
        """One file per task of a pruned model's scoring job (its wildcards left for Snakemake)."""
        return [self.path(f"{{variant}}/scores/{task}{suffix}", "{arm}", "{seed}", "{k}") for task in self.tasks]

    def evaluate_settings(self, wildcards: Any) -> dict[str, Any]:
        """What the evaluation stage's scoring jobs get of its section: pruned models are scored alike."""
        return {k: v for k, v in self.config["evaluate"].items() if k not in TABLE_ONLY_KEYS}

    def resampling(self, wildcards: Any) -> dict[str, int]:
        """Bootstrap resamples of the table's intervals: Table 1's."""
        return {"n_resamples": int(self.config["evaluate"]["bootstrap_resamples"])}

    def stage_label(self, wildcards: Any) -> str:
        return pruned_stage(self.section.from_stage, int(wildcards.k), wildcards.variant)

    def cache(self, wildcards: Any) -> str:
        """mteb's own result cache (its JSON and the model's predictions), beside the tidy rows."""
        return self.path(f"{wildcards.variant}/scores/mteb", wildcards.arm, wildcards.seed, wildcards.k)

    def profile(self, wildcards: Any) -> dict[str, Any]:
        """What the profile section says about measuring: pruned models are timed like every arm."""
        return {k: v for k, v in self.config["profile"].items() if k not in REPORT_KEYS}

    def throughput(self, wildcards: Any) -> dict[str, int]:
        """The encode cell every model is timed at: the prune section's, else Table 2's."""
        cell = self.config["profile"]["table2_cell"]
        return {
            "seq_len": self.section.throughput_seq_len or cell["seq_len"],
            "batch_size": self.section.throughput_batch_size or cell["batch_size"],
        }

    def profile_text_files(self, wildcards: Any) -> list[str]:
        source = self.config["profile"]["texts"]
        return [self.local_path(source["path"])] if source.get("path") else []

    def speed_jobs(self, wildcards: Any) -> list[dict[str, Any]]:
        """(arm entry, k) of every timed model, in the order of `speed_models()`."""
        return [{"arm": self.arm_entry(arm, ARM_KEYS), "k": k} for arm in self.arms for k in (0, *self.ks)]

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Pruned arm -> the name the table and figures print, in config order."""
        names = {a["name"]: a["display_name"] for a in self.config["arms"]}
        return {arm: names[arm] for arm in names if arm in self.arms}

    def report_settings(self, wildcards: Any) -> dict[str, Any]:
        return {"from_stage": self.section.from_stage, "ks": self.ks, "variants": self.variants}

    # ------------------------------------------------------------------------- file lists

    def speed_models(self) -> list[str]:
        """Every arm's unpruned model, then its dropped models (k ascending), of the first replicate
        seed: speed is the architecture's, the same in every replicate."""
        seed = self.pruned_seeds[0]
        return [
            self.path("dropped/model", arm, seed, k) if k else self.unpruned(arm, seed)
            for arm in self.arms
            for k in (0, *self.ks)
        ]

    def importance_jsons(self) -> list[str]:
        return [self.path("importance.json", arm, seed) for arm in self.arms for seed in self.pruned_seeds]

    def drop_manifests(self) -> list[str]:
        return [
            self.path("dropped/manifest.json", arm, seed, k)
            for arm in self.arms
            for seed in self.pruned_seeds
            for k in self.ks
        ]

    def recovered_manifests(self) -> list[str]:
        return [
            self.path("recovered/manifest.json", arm, seed, k)
            for arm in self.arms
            for seed in self.pruned_seeds
            for k in self.ks
        ]

    def score_rows(self) -> list[str]:
        """Tidy evaluation rows of every model of the table, every replicate: the unpruned models'
        (evaluate stage), then every pruned variant's."""
        unpruned = [
            self.unpruned(arm, seed, task) for arm in self.arms for seed in self.pruned_seeds for task in self.tasks
        ]
        pruned = [
            self.path(f"{variant}/scores/{task}.json", arm, seed, k)
            for arm in self.arms
            for seed in self.pruned_seeds
            for k in self.ks
            for variant in self.variants
            for task in self.tasks
        ]
        return unpruned + pruned

    def targets(self) -> list[str]:
        """What `snakemake prune` makes: every recovered model, the table and both figures."""
        if not self.enabled:
            return []
        outputs = [
            "results/tables/prune_tradeoff.csv",
            "results/figures/prune_tradeoff.pdf",
            "results/figures/prune_importance.pdf",
        ]
        return self.recovered_manifests() + outputs
