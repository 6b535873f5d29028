"""Typed views of the config's `models` and `pretrain` sections (schema: workflow/schemas/pretrain.schema.yaml).

Free of heavy imports: the workflow reads stage names from here at parse time. The
dataclasses are built from the validated config dict, so the schema's defaults are the ones a
workflow run sees; the defaults here only serve code that builds them by hand (tests, benchmarks).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from twinarch.core.config import ConfigError

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
    def from_dict(cls, raw: Mapping[str, Any]) -> OptimizerConfig:
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
    def from_dict(cls, raw: Mapping[str, Any]) -> StageConfig:
        data = dict(raw)
        data["corpora"] = tuple(data.get("corpora", ()))
        return _from_mapping(cls, data)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything about pretraining that every arm and stage shares (objectives differ only by family)."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    mlm_probability: float = 0.3
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    eval_max_blocks: int = 256
    keep_checkpoints: int = 2
    dataloader_workers: int = 0
    threads: int = 1

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PretrainConfig:
        data = dict(raw)
        data["optimizer"] = OptimizerConfig.from_dict(data.get("optimizer", {}))
        return _from_mapping(cls, data)


# Settings that decide how a job runs, not what it computes: they reach the job from the config at
# run time instead of through its params, so editing them never retrains a model.
OPERATIONAL_STAGE_KEYS = ("checkpoint_every_steps", "log_every_steps")
OPERATIONAL_SHARED_KEYS = ("keep_checkpoints", "dataloader_workers", "threads")
# Arm keys that shape pretraining (the shape itself comes in through the arm's model config file).
ARM_KEYS = ("name", "family", "token_budget_scale")


def stage_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for raw in config["pretrain"]["stages"]:
        if raw["name"] == name:
            return dict(raw)
    raise ConfigError(f"config key 'pretrain.stages': no stage named '{name}'; stages are {stage_names(config)}")


def run_settings(config: Mapping[str, Any], arm: Mapping[str, Any], stage: str, seed: int) -> dict[str, Any]:
    """What shapes one (arm, stage, replicate seed) run: this stage's settings (not its siblings'),
    the shared recipe, the seed and the device; no display names and no logging or checkpoint
    intervals. It is the job's param, so editing anything else re-runs nothing."""
    section = config["pretrain"]
    return {
        "arm": {k: arm[k] for k in ARM_KEYS},
        "stage": {k: v for k, v in stage_entry(config, stage).items() if k not in OPERATIONAL_STAGE_KEYS},
        "pretrain": {k: v for k, v in section.items() if k != "stages" and k not in OPERATIONAL_SHARED_KEYS},
        "device": config["device"],
        "seed": int(seed),
    }


def operational_settings(config: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """How one stage's jobs run (read by the job from the config, not a param)."""
    entry = stage_entry(config, stage)
    section = config["pretrain"]
    return {
        "stage": {k: entry[k] for k in OPERATIONAL_STAGE_KEYS if k in entry},
        "pretrain": {k: section[k] for k in OPERATIONAL_SHARED_KEYS if k in section},
    }


def stage_names(config: Mapping[str, Any]) -> list[str]:
    """The names of `config.pretrain.stages`: the pretraining steps an arm may list in its `steps`."""
    return [stage["name"] for stage in config["pretrain"]["stages"]]
