"""Typed views of the config's `models` and `pretrain` sections (schema: workflow/schemas/pretrain.schema.yaml).

Free of heavy imports: the Snakefile reads stage names and lineages from here at parse time. The
dataclasses are built from the validated config dict, so the schema's defaults are the ones a
workflow run sees; the defaults here only serve code that builds them by hand (tests, benchmarks).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from twinarch.config import ConfigError, get_arm

# Optimizers whose implementation lives in an optional package that the Trainer imports lazily.
OPTIONAL_OPTIMIZER_PACKAGES = {"schedule_free_radam": "schedulefree", "schedule_free_adamw": "schedulefree"}


def _from_mapping(cls: type, raw: Mapping[str, Any]) -> Any:
    """Build a dataclass from the keys it declares (the schema has already rejected unknown keys)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer every stage and arm shares; the learning rate is per stage."""

    name: str = "adamw_torch"
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 1e-5
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "OptimizerConfig":
        data = dict(raw)
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return _from_mapping(cls, data)

    def check_installed(self) -> None:
        """Fail before any training when the optimizer's optional package is missing."""
        package = OPTIONAL_OPTIMIZER_PACKAGES.get(self.name)
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"config key 'pretrain.optimizer.name' is '{self.name}', which needs the Python package "
                f"'{package}' (pip install {package}); it is not installed"
            )


@dataclass(frozen=True)
class StageConfig:
    """One pretraining stage: its data (`corpora`, `seq_len`, read by the data stage too) and its run."""

    name: str
    corpora: tuple[str, ...]
    seq_len: int
    token_budget: int = 100_000
    learning_rate: float = 5e-4
    per_device_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    loop_epochs: bool = False
    deepspeed: str | None = None
    activation_checkpointing: bool = False
    eval_every_steps: int = 50
    checkpoint_every_steps: int = 50
    log_every_steps: int = 10

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "StageConfig":
        data = dict(raw)
        data["corpora"] = tuple(data.get("corpora", ()))
        return _from_mapping(cls, data)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything about pretraining that every arm shares (objectives differ only by family)."""

    stages: tuple[StageConfig, ...]
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    mlm_probability: float = 0.3
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    eval_max_blocks: int = 256
    keep_checkpoints: int = 2
    dataloader_workers: int = 0
    threads: int = 1

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "PretrainConfig":
        data = dict(raw)
        data["stages"] = tuple(StageConfig.from_dict(s) for s in data.get("stages", ()))
        data["optimizer"] = OptimizerConfig.from_dict(data.get("optimizer", {}))
        return _from_mapping(cls, data)

    def stage(self, name: str) -> StageConfig:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"unknown pretraining stage '{name}'; config.pretrain.stages has {self.stage_names}")

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]


def pretrain_config(config: Mapping[str, Any]) -> PretrainConfig:
    return PretrainConfig.from_dict(config["pretrain"])


def scratch_arm_stages(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(arm, stage) pairs the workflow pretrains: every stage of every arm trained from scratch."""
    pairs = []
    for raw in config["arms"]:
        if raw.get("init", "scratch") == "scratch":
            pairs += [(raw["name"], stage) for stage in raw.get("pretrain_stages", [])]
    return pairs


def previous_stage(config: Mapping[str, Any], arm: str, stage: str) -> str | None:
    """The stage whose final weights `stage` continues from in this arm's lineage (None: random init)."""
    lineage = list(get_arm(config, arm).pretrain_stages)
    if stage not in lineage:
        raise ConfigError(f"config key 'arms': arm '{arm}' has no pretraining stage '{stage}' (lineage {lineage})")
    index = lineage.index(stage)
    return lineage[index - 1] if index > 0 else None

