"""Input and param functions of the evaluate stage's rules (workflow/rules/evaluate.smk).

Cross-key checks of the local tasks (the columns their type needs, a corpus) run when this is built,
at parse time; tasks are the benchmark's (from the frozen registry) plus the local ones.
"""

from __future__ import annotations

import re
from typing import Any

from twinarch.core.rules import ConfigRules
from twinarch.evaluate.config import (
    PRETRAIN_ONLY_STAGE,
    TABLE1_STAGE,
    EvaluateSettings,
    evaluation_task_names,
    task_entry,
    task_input_files,
)


class EvaluateRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.stages = list(EvaluateSettings.from_config(config).stages)
        self.tasks = evaluation_task_names(config)
        self.stage_pattern = "|".join(re.escape(s) for s in self.stages)
        self.task_pattern = "|".join(re.escape(t) for t in self.tasks)
        self.threads = self.cpus("evaluate")
        self.table1_rows = self.rows([TABLE1_STAGE])
        self.pretrain_only_rows = self.rows([PRETRAIN_ONLY_STAGE])

    def task(self, wildcards: Any) -> dict[str, Any]:
        """The task's config fragment (paths resolved): editing one task re-runs only its jobs."""
        return task_entry(self.config, wildcards.task)

    def task_files(self, wildcards: Any) -> list[str]:
        """Local files the task reads (synthetic ones are made by generate_synthetic_data)."""
        return task_input_files(self.config, wildcards.task)

    def settings(self, wildcards: Any) -> dict[str, Any]:
        """The evaluate section without its task list (each job gets only its own task) and without
        the list of stages scored (which decides what jobs exist, not what one computes)."""
        return {k: v for k, v in self.config["evaluate"].items() if k not in ("tasks", "stages")}

    def cache(self, wildcards: Any) -> str:
        """mteb's own result cache (its JSON), beside the tidy row."""
        return f"results/evaluate/{wildcards.arm}/{wildcards.estage}/{wildcards.task}.mteb"

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Arm -> the name Table 1 prints, in config order (a param of the table only)."""
        return {a["name"]: a["display_name"] for a in self.config["arms"]}

    def rows(self, stages: list[str]) -> list[str]:
        return [
            f"results/evaluate/{arm}/{estage}/{task}.json"
            for arm in self.arms
            for estage in stages
            for task in self.tasks
        ]
