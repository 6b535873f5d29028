"""Input and param functions of the evaluate stage's rules (workflow/rules/evaluate.smk).

Cross-key checks of the local tasks (the columns their type needs, a corpus) run when this is built,
at parse time; tasks are the benchmark's (from the frozen registry) plus the local ones.
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from twinarch.core.config import arm_names, get_arm
from twinarch.core.rules import ConfigRules
from twinarch.evaluate.config import (
    PRETRAIN_ONLY_STAGE,
    SEARCH_CATEGORIES,
    TABLE1_STAGE,
    EvaluateSettings,
    baseline_entry,
    evaluation_task_names,
    task_categories,
    task_entry,
    task_input_files,
)

# Keys of `evaluate` that decide which jobs exist or what Table 1 draws, not what a scoring job computes.
TABLE_ONLY_KEYS = ("tasks", "stages", "bootstrap_resamples", "permutations", "baselines", "score_pretrain_only")


class EvaluateRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.stages = list(EvaluateSettings.from_config(config).stages)
        self.tasks = evaluation_task_names(config)
        self.stage_pattern = "|".join(re.escape(s) for s in self.stages)
        self.threads = self.cpus("evaluate")
        self.table1_rows = self.rows([TABLE1_STAGE])
        self.pretrain_only_rows = self.rows([PRETRAIN_ONLY_STAGE])
        # Extension studies with arms of their own: their Table 1 sets them beside the paper's arms.
        self.studies = sorted({a["study"] for a in config["arms"] if a.get("study")})
        self.study_pattern = "|".join(re.escape(s) for s in self.studies) or "$^"
        self.score_pretrain_only = dict(config["evaluate"].get("score_pretrain_only", {}))
        # Lexical baselines (config.evaluate.baselines): scored once, on the search tasks only.
        categories = task_categories(config)
        self.baselines = [b["name"] for b in config["evaluate"].get("baselines", [])]
        self.baseline_pattern = "|".join(re.escape(b) for b in self.baselines) or "^$"
        self.search_tasks = [t for t in self.tasks if categories[t] in SEARCH_CATEGORIES]
        self.baseline_rows = [
            f"results/evaluate/baselines/{b}/{t}.json" for b in self.baselines for t in self.search_tasks
        ]

    def task_entries(self, wildcards: Any) -> list[dict[str, Any]]:
        """Every task's config fragment (paths resolved), in the order of the rule's outputs."""
        return [task_entry(self.config, t) for t in self.tasks]

    def search_task_entries(self, wildcards: Any) -> list[dict[str, Any]]:
        return [task_entry(self.config, t) for t in self.search_tasks]

    def all_task_files(self, wildcards: Any) -> list[str]:
        """Local files the tasks read (synthetic ones are made by generate_synthetic_data)."""
        return list(dict.fromkeys(f for t in self.tasks for f in task_input_files(self.config, t)))

    def search_task_files(self, wildcards: Any) -> list[str]:
        return list(dict.fromkeys(f for t in self.search_tasks for f in task_input_files(self.config, t)))

    def task_outputs(self, suffix: str) -> list[str]:
        """One file per task of a model's scoring job (its wildcards left for Snakemake)."""
        return [f"results/evaluate/{{arm}}/seed_{{seed}}/{{estage}}/{task}{suffix}" for task in self.tasks]

    def baseline_outputs(self, suffix: str) -> list[str]:
        return [f"results/evaluate/baselines/{{baseline}}/{task}{suffix}" for task in self.search_tasks]

    def settings(self, wildcards: Any) -> dict[str, Any]:
        """The evaluate section without its task list (each job gets only its own task) and without
        the list of stages scored (which decides what jobs exist, not what one computes)."""
        return {k: v for k, v in self.config["evaluate"].items() if k not in TABLE_ONLY_KEYS}

    def cache(self, wildcards: Any) -> str:
        """mteb's own result cache (its JSON and the model's predictions), beside the tidy rows."""
        return f"results/evaluate/{wildcards.arm}/seed_{wildcards.seed}/{wildcards.estage}/mteb"

    def resampling(self, wildcards: Any) -> dict[str, int]:
        """How many bootstrap resamples and permutations Table 1's intervals and tests draw."""
        section = self.config["evaluate"]
        return {"n_resamples": section["bootstrap_resamples"], "n_permutations": section["permutations"]}

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Arm (then baseline) -> the name Table 1 prints, in config order (a param of the table only);
        a study's table shows its arms after the paper's."""
        study = getattr(wildcards, "study", None)
        names = {a["name"]: a["display_name"] for a in self.config["arms"] if a.get("study") in (None, study)}
        names.update({b["name"]: b["display_name"] for b in self.config["evaluate"].get("baselines", [])})
        return names

    def baseline(self, wildcards: Any) -> dict[str, Any]:
        """The baseline's entry (its mteb model)."""
        return baseline_entry(self.config, wildcards.baseline)

    def baseline_cache(self, wildcards: Any) -> str:
        return f"results/evaluate/baselines/{wildcards.baseline}/mteb"

    def study_arms(self, wildcards: Any) -> list[str]:
        """A study's Table 1 arms: the paper's, then the study's own (a paper arm the study reuses
        once)."""
        return list(dict.fromkeys([*self.core_arms, *arm_names(self.config, wildcards.study, every=False)]))

    def pairs(self, wildcards: Any) -> list[list[str]] | None:
        """Which two arms the paired table compares (None: every two, the paper's own table). A
        study's table compares arms of the same size only (a difference between sizes confounds the
        arms with their sizes): each of the study's own arms with every other arm of its size, and
        every two of the paper's arms that the study reuses; the paper's other pairs are the paper's
        table's. Every two of the ladder's 17 arms would be 136 pairs, 95% of its table's time for
        questions nobody asked."""
        study = getattr(wildcards, "study", None)
        if study is None:
            return None
        members = set(arm_names(self.config, study, every=False))
        own = {arm for arm in members if arm not in self.core_arms}
        sizes = {arm: get_arm(self.config, arm).size for arm in self.study_arms(wildcards)}
        return [
            [a, b]
            for a, b in combinations(self.display_names(wildcards), 2)
            if a in sizes and b in sizes and sizes[a] == sizes[b] and ({a, b} & own or {a, b} <= members)
        ]

    def study_table1_rows(self, wildcards: Any) -> list[str]:
        return self.rows([TABLE1_STAGE], self.study_arms(wildcards))

    def study_pretrain_only_rows(self, wildcards: Any) -> list[str]:
        """The pretrain-only rows of the paper's arms, and of the study's own arms unless
        `evaluate.score_pretrain_only` turns them off (the ladder asks about its pretrained models
        through both objectives' validation losses; scoring them too is a tenth of its time)."""
        arms = self.study_arms(wildcards) if self.score_pretrain_only.get(wildcards.study, True) else self.core_arms
        return self.rows([PRETRAIN_ONLY_STAGE], arms)

    def rows(self, stages: list[str], arms: list[str] | None = None) -> list[str]:
        return [
            f"results/evaluate/{arm}/seed_{seed}/{estage}/{task}.json"
            for arm in (self.core_arms if arms is None else arms)
            for seed in self.seeds
            for estage in stages
            for task in self.tasks
        ]
