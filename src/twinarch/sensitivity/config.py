"""Typed view of the `sensitivity` config section and its checks (schema: workflow/schemas/sensitivity.schema.yaml).

Free of heavy imports (no torch): the checks run at parse time, so an unknown measured stage or a
length no model can hold fails before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError, arm_names, check_seed_subset
from twinarch.data.text_samples import TextSource
from twinarch.embed.config import embed_stage_names

# The "head" of a sequence whose pull on the pooled embedding Figure 1 follows: always occluded,
# whatever the length, so its influence is measured, never estimated.
HEAD_TOKENS = 8
OCCLUSION = "occlusion"
INTEGRATED_GRADIENTS = "integrated_gradients"
# Columns that name the network a row belongs to, in the position and the delta tables alike.
MODEL_COLUMNS = ("model", "seed", "family", "stage", "variant", "attention", "pooling")


@dataclass(frozen=True)
class SensitivitySettings:
    """What shapes one job's output: the `sensitivity` section less `arms`, `seeds` and `estages` (which decide the jobs)."""

    documents: TextSource
    num_documents: int
    lengths: tuple[int, ...]
    occlusion_token: str
    n_steps: int
    batch_size: int
    max_occluded_positions: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], data_root: str) -> SensitivitySettings:
        settings = cls(
            documents=TextSource.from_config("sensitivity.documents", section["documents"], data_root),
            num_documents=int(section["num_documents"]),
            lengths=tuple(sorted(int(n) for n in section["lengths"])),
            occlusion_token=str(section["occlusion_token"]),
            n_steps=int(section["n_steps"]),
            batch_size=int(section["batch_size"]),
            max_occluded_positions=int(section["max_occluded_positions"]),
        )
        settings.check()
        return settings

    def check(self) -> None:
        short = [n for n in self.lengths if n <= HEAD_TOKENS]
        if short:
            raise ConfigError(
                f"config key 'sensitivity.lengths': {short} do not exceed the {HEAD_TOKENS} head tokens "
                "whose share of the total the analysis reports"
            )
        if len(set(self.lengths)) != len(self.lengths):
            raise ConfigError(f"config key 'sensitivity.lengths': repeated lengths in {list(self.lengths)}")
        if self.max_occluded_positions <= HEAD_TOKENS:
            raise ConfigError(
                f"config key 'sensitivity.max_occluded_positions': {self.max_occluded_positions} leaves no "
                f"position to occlude beyond the {HEAD_TOKENS} head tokens"
            )
        if self.documents.max_rows < self.num_documents:
            raise ConfigError(
                f"config key 'sensitivity.documents.max_rows': {self.documents.max_rows} rows cannot give "
                f"sensitivity.num_documents = {self.num_documents} documents"
            )


def check_sensitivity_section(config: Mapping[str, Any]) -> None:
    """Cross-key checks run at parse time: measured stages exist, lengths fit the scratch models (a
    pretrained arm's own positions are checked by the job, which reads its model's config)."""
    section = config.get("sensitivity")
    if section is None:  # the stage is off
        return
    unknown = [arm for arm in section.get("arms") or [] if arm not in arm_names(config)]
    if unknown:
        raise ConfigError(f"config key 'sensitivity.arms': unknown arms {unknown}; config.arms has {arm_names(config)}")
    check_seed_subset(config, "sensitivity.seeds", section.get("seeds"))
    known = embed_stage_names(config)
    for estage in section["estages"]:
        if estage not in known:
            raise ConfigError(f"config key 'sensitivity.estages': unknown embedding stage '{estage}'; known: {known}")
    settings = SensitivitySettings.from_section(section, str(config.get("data_root", "")))
    scratch = any(arm.get("init", "scratch") == "scratch" for arm in config["arms"])
    positions = config.get("models", {}).get("max_position_embeddings")
    if scratch and positions is not None and max(settings.lengths) > int(positions):
        raise ConfigError(
            f"config key 'sensitivity.lengths': {max(settings.lengths)} exceeds models.max_position_embeddings "
            f"= {positions}"
        )
