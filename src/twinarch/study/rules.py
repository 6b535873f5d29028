"""The Snakefile's entry point: the validated study and the lineage every stage's rules ask.

`StudyRules(config)` runs every check across sections at parse time (an arm's steps exist, a
baseline arm is an arm, a stage's length fits the models) and the cheap check of every local input
(it exists, its first row has the mapped columns), so a bad config or a wrong data_root fails on
`snakemake -n` naming the key and the file, before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinarch.core.rules import ConfigRules
from twinarch.study import lineage
from twinarch.study.artifacts import artifact_files
from twinarch.study.checks import check_study
from twinarch.study.inputs import check_headers, input_files


class StudyLineage:
    """`twinarch.core.rules.Lineage` for one config."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def start_model(self, arm: str, stage: str, name: str, seed: int | str) -> str | None:
        return lineage.start_model(self.config, arm, stage, name, seed)

    def model_dir(self, arm: str, stage: str, name: str, seed: int | str) -> str:
        return lineage.Step(arm, stage, name).model_dir(seed)

    def jobs(self, stage: str) -> list[tuple[str, int, str]]:
        return lineage.stage_jobs(self.config, stage)


class StudyRules(ConfigRules):
    def __init__(self, config: Mapping[str, Any], source: str = "config") -> None:
        check_study(config, source)
        check_headers(config)
        super().__init__(config)
        self.lineage = StudyLineage(config)
        self.conda_env = f"../../envs/{config['conda_env']}.yaml"

    # The whole pass over every input (twinarch.study.inputs); the first job of each expensive chain
    # takes it as an `ancient` input, so bad data stops the study before training, and a rerun of
    # the check (after an input file changed) reruns nothing else by itself.
    inputs_checked = "results/checks/inputs.json"

    def input_files(self, wildcards: Any) -> list[str]:
        return input_files(self.config)

    def artifact_files(self, name: str | None = None) -> list[str]:
        """Files of one artifact or study (a named target), or of every paper artifact and the
        studies `config.studies` lists (`rule all`)."""
        return artifact_files(name, self.config["studies"])
