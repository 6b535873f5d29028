"""Input and param functions of the quality stage's rules (workflow/rules/quality.smk)."""

from __future__ import annotations

from typing import Any

from twinarch.core.rules import ConfigRules


class QualityRules(ConfigRules):
    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.estages = list(config["quality"]["estages"])
        self.estage_pattern = "|".join(self.estages)
        self.jsons = [
            f"results/quality/{arm}/seed_{seed}/{estage}.json"
            for arm in self.core_arms
            for seed in self.seeds
            for estage in self.estages
        ]

    def section(self, wildcards: Any) -> dict[str, Any]:
        """The quality section without the list of stages measured (it decides which jobs exist)."""
        return {k: v for k, v in self.config["quality"].items() if k != "estages"}

    def text_files(self, wildcards: Any) -> list[str]:
        section = self.config["quality"]
        sources = (section["positive_pairs"], section["random_texts"])
        return [self.local_path(s["path"]) for s in sources if s.get("path")]

    def family(self, wildcards: Any) -> str:
        return str(self.arm_entry(wildcards.arm, ("family",))["family"])

    def display_names(self, wildcards: Any) -> dict[str, str]:
        """Arm -> the name Figure 2 prints, in config order."""
        return {a["name"]: a["display_name"] for a in self.config["arms"] if a["name"] in self.core_arms}
