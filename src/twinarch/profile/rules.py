"""Input and param functions of the profile stage's rules (workflow/rules/profile.smk)."""

from __future__ import annotations

import os
from typing import Any

from twinarch.core.config import get_arm
from twinarch.core.rules import ConfigRules
from twinarch.embed.config import ARM_KEYS
from twinarch.profile.config import REPORT_KEYS


class ProfileRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        # Every core unless the config says otherwise; Snakemake caps it at --cores, so locally the
        # profiling job runs alone and no other job shares its timings.
        self.threads = int(config["profile"]["threads"] or os.cpu_count() or 1)
        self.csvs = [f"results/profile/{arm}.csv" for arm in self.core_arms]

    def section(self, wildcards: Any) -> dict[str, Any]:
        return dict(self.config["profile"])

    def measurement(self, wildcards: Any) -> dict[str, Any]:
        """What the measuring job reads (the reports' keys left out)."""
        return {k: v for k, v in self.config["profile"].items() if k not in REPORT_KEYS}

    def normalize(self, wildcards: Any) -> bool:
        """Whether embedding models end in Normalize: profiled models are built like the trained ones."""
        return bool(self.config["embed"]["normalize"])

    def text_files(self, wildcards: Any) -> list[str]:
        """The profiling texts' local file as an input (a hub dataset is no file)."""
        source = self.config["profile"]["texts"]
        return [self.local_path(source["path"])] if source.get("path") else []

    def tokenizer_files(self, wildcards: Any) -> list[str]:
        """The shared tokenizer as an input when some arm uses it (a pretrained arm brings its own)."""
        return (
            ["results/tokenizer"]
            if any(self._tokenizer(name) == "results/tokenizer" for name in self.core_arms)
            else []
        )

    def tokenizers(self, wildcards: Any) -> list[str]:
        return [self._tokenizer(name) for name in self.core_arms]

    def _tokenizer(self, name: str) -> str:
        arm = get_arm(self.config, name)
        return self.local_path(str(arm.init_from)) if arm.init == "pretrained" else "results/tokenizer"

    def arm_entries(self, wildcards: Any) -> list[dict[str, Any]]:
        """What shapes each arm's profiled model, in the order of the rule's outputs."""
        return [self.arm_entry(name, ARM_KEYS) for name in self.core_arms]

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Arm -> the name Table 2 and Figures 3-4 print, in config order."""
        return {a["name"]: a["display_name"] for a in self.config["arms"] if a["name"] in self.core_arms}

    def model_configs(self) -> list[str]:
        return [f"results/models/{arm}/config.json" for arm in self.core_arms]
