"""Typed view of the `quality` config section and its checks (schema: workflow/schemas/quality.schema.yaml).

Free of heavy imports (no torch): the checks run at parse time, so an unknown measured stage fails
before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.data.text_samples import PairSource, TextSource
from twinarch.embed.config import embed_stage_names


@dataclass(frozen=True)
class QualitySettings:
    """What a measuring job reads of the `quality` section (workflow/schemas/quality.schema.yaml);
    `estages`, which decides which jobs exist, is the rules' business."""

    positive_pairs: PairSource
    random_texts: TextSource
    batch_size: int
    max_seq_length: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], data_root: str) -> QualitySettings:
        return cls(
            positive_pairs=PairSource.from_config("quality.positive_pairs", section["positive_pairs"], data_root),
            random_texts=TextSource.from_config("quality.random_texts", section["random_texts"], data_root),
            batch_size=section["batch_size"],
            max_seq_length=section["max_seq_length"],
        )


def check_quality_section(config: Mapping[str, Any]) -> None:
    """Cross-key checks run at parse time: every measured stage is one the embed stage makes."""
    known = embed_stage_names(config)
    for estage in config["quality"]["estages"]:
        if estage not in known:
            raise ConfigError(f"config key 'quality.estages': unknown embedding stage '{estage}'; known: {known}")
    QualitySettings.from_section(config["quality"], str(config.get("data_root", "")))
