"""Typed view of the config's `prune` section (schema: workflow/schemas/prune.schema.yaml).

The section is optional: without it the stage makes nothing. Kept free of heavy imports, because the
Snakefile builds the stage's rules (and runs these checks) at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError, arm_names, check_seed_subset
from twinarch.data.text_samples import TextSource
from twinarch.embed.config import DATA_KEYS, OPERATIONAL_KEYS, EmbedStage, embed_stage_names
from twinarch.evaluate.config import EvaluateSettings

SECTION = "prune"
FROM_STAGE = "ft"
# The model right after its MLPs are dropped, and the same model after contrastive recovery training.
DROPPED = "dropped"
RECOVERED = "recovered"
VARIANTS = (DROPPED, RECOVERED)


@dataclass(frozen=True)
class Calibration:
    """Texts whose residual streams score the MLPs, and how they are batched."""

    texts: tuple[TextSource, ...]
    max_length: int
    batch_size: int

    @classmethod
    def from_section(cls, raw: Mapping[str, Any], data_root: str) -> Calibration:
        return cls(
            texts=tuple(
                TextSource.from_config(f"prune.calibration.texts[{i}]", source, data_root)
                for i, source in enumerate(raw["texts"])
            ),
            max_length=int(raw["max_length"]),
            batch_size=int(raw["batch_size"]),
        )

    def sample(self, seed: int) -> list[str]:
        """Every source's seeded sample (each source's `max_rows` is its count), sources in order."""
        return [text for source in self.texts for text in source.texts(seed)]


@dataclass(frozen=True)
class PruneSection:
    """The validated `prune` section; `recovery` is an embedding stage (embed.schema.yaml#embed_stage)."""

    arms: tuple[str, ...]
    from_stage: str
    ks: tuple[int, ...]
    calibration: Mapping[str, Any]
    recovery: Mapping[str, Any]
    evaluate_dropped: bool = True
    seeds: tuple[int, ...] | None = None
    throughput_seq_len: int | None = None
    throughput_batch_size: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PruneSection | None:
        """None when the config has no `prune` section (the stage is opt-in)."""
        raw = config.get(SECTION)
        if not raw:
            return None
        throughput = raw.get("throughput") or {}
        return cls(
            arms=tuple(raw.get("arms") or arm_names(config)),
            from_stage=raw.get("from_stage", FROM_STAGE),
            ks=tuple(sorted(raw["ks"])),
            calibration=dict(raw["calibration"]),
            recovery=dict(raw["recovery"]),
            evaluate_dropped=bool(raw.get("evaluate_dropped", True)),
            seeds=tuple(int(x) for x in raw["seeds"]) if raw.get("seeds") else None,
            throughput_seq_len=throughput.get("seq_len"),
            throughput_batch_size=throughput.get("batch_size"),
        )

    @property
    def variants(self) -> tuple[str, ...]:
        """The pruned models that are scored: after recovery always, right after dropping on request."""
        return VARIANTS if self.evaluate_dropped else (RECOVERED,)

    def recovery_stage(self, data_root_config: Mapping[str, Any]) -> EmbedStage:
        return EmbedStage.from_dict(self.recovery, data_root_config)

    def recovery_fragment(self) -> dict[str, Any]:
        """What shapes recovery training (a param): the stage without checkpoint and logging intervals."""
        return {k: v for k, v in self.recovery.items() if k not in OPERATIONAL_KEYS}

    def recovery_operational(self) -> dict[str, Any]:
        """How recovery jobs run: read from the config at run time, so editing it retrains nothing."""
        return {k: v for k, v in self.recovery.items() if k in OPERATIONAL_KEYS}

    def recovery_data_fragment(self) -> dict[str, Any]:
        """What shapes the recovery stage's contrastive datasets."""
        return {k: v for k, v in self.recovery.items() if k in DATA_KEYS}


def pruned_stage(from_stage: str, k: int, variant: str) -> str:
    """The `stage` of a pruned model's evaluation rows (and its mteb model name): one per model."""
    return f"{from_stage}-drop{k}-{variant}"


def check_prune_section(config: Mapping[str, Any]) -> None:
    """Cross-key checks run at parse time; a config without the section passes."""
    section = PruneSection.from_config(config)
    if section is None:
        return
    unknown = sorted(set(section.arms) - set(arm_names(config)))
    if unknown:
        raise ConfigError(f"config key 'prune.arms': unknown arms {unknown}; config.arms has {arm_names(config)}")
    check_seed_subset(config, "prune.seeds", section.seeds)
    known = embed_stage_names(config)
    if section.from_stage not in known:
        raise ConfigError(
            f"config key 'prune.from_stage': unknown embedding stage '{section.from_stage}'; known: {known}"
        )
    evaluated = EvaluateSettings.from_config(config).stages
    if section.from_stage not in evaluated:
        raise ConfigError(
            f"config key 'prune.from_stage': '{section.from_stage}' is not in evaluate.stages {list(evaluated)}; "
            "the unpruned model's scores (k = 0 of the trade-off table) come from there"
        )
    if len(set(section.ks)) != len(section.ks):
        raise ConfigError(f"config key 'prune.ks': {list(section.ks)} lists a value twice")
    Calibration.from_section(section.calibration, str(config.get("data_root", "")))
    section.recovery_stage(config)
