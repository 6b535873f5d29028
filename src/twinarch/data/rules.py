"""Input and param functions of the data stage's rules (workflow/rules/data.smk)."""

from __future__ import annotations

import re
from typing import Any

from twinarch.core.rules import ConfigRules
from twinarch.data.config import stage_plan, tokenizer_corpus_names, tokenizer_input_paths, tokenizer_section
from twinarch.data.sources import corpus_input_files, resolved_corpus_specs
from twinarch.data.synthetic import synthetic_output_files


class DataRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.shard_stages = [stage["name"] for stage in config["pretrain"]["stages"]]
        self.shard_stage_pattern = "|".join(re.escape(name) for name in self.shard_stages)
        self.num_shards = int(config["shards"]["num_shards"])
        self.synthetic_files = synthetic_output_files()

    def synthetic(self, wildcards: Any) -> dict[str, Any]:
        """The `synthetic` section: editing it regenerates the demo data."""
        return dict(self.config["synthetic"])

    def tokenizer(self, wildcards: Any) -> dict[str, Any]:
        return tokenizer_section(self.config)

    def tokenizer_corpora(self, wildcards: Any) -> dict[str, dict[str, Any]]:
        """Resolved specs of the corpora a trained tokenizer learns from."""
        return resolved_corpus_specs(self.config, tokenizer_corpus_names(self.config))

    def tokenizer_inputs(self, wildcards: Any) -> list[str]:
        return tokenizer_input_paths(self.config)

    def shard_plan(self, wildcards: Any) -> dict[str, Any]:
        """Everything a shard job of this stage needs: seq_len, seed, resolved corpora, shards section."""
        return stage_plan(self.config, wildcards.stage)

    def shard_corpus_files(self, wildcards: Any) -> list[str]:
        return corpus_input_files(self.shard_plan(wildcards)["corpora"])

    def manifests(self) -> list[str]:
        return [f"results/shards/{stage}/manifest.json" for stage in self.shard_stages]
