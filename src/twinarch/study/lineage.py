"""An arm's lineage: the training steps its model goes through, and what each one starts from.

An arm's chain is data: its `steps` (the pretraining stages of `config.pretrain.stages`, in order),
then the embedding stages every arm shares (`base`, the pretrained network with its pooling, then
`config.embed.stages`: the paper's WSL and FT). Each step is made by one stage's rule and writes
`results/<stage>/<arm>/<step>/model`; it starts from the previous step's model, the first from the
arm's init (random weights built from `results/models/<arm>/config.json`, or the hub id / local
directory of a pretrained arm). This module is the one place that knows the order, so a new step
kind is one entry in `STEP_STAGES` plus the new stage's own files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError, get_arm, resolve_path
from twinarch.embed.config import BASE_STAGE, embed_stage_names
from twinarch.pretrain.config import stage_names as pretrain_stage_names

# Stages whose steps an arm lists in `steps`, each with the step names its config section defines.
STEP_STAGES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "pretrain": pretrain_stage_names,
}
EMBED_STAGE = "embed"


@dataclass(frozen=True)
class Step:
    """One step of an arm's chain: made by the rules of `stage`, named `name` within it."""

    arm: str
    stage: str
    name: str

    @property
    def model_dir(self) -> str:
        return f"results/{self.stage}/{self.arm}/{self.name}/model"


def step_stage(config: Mapping[str, Any], name: str) -> str:
    """The stage that defines a step name listed in an arm's `steps`."""
    owners = [stage for stage, names in STEP_STAGES.items() if name in names(config)]
    if not owners:
        known = {stage: names(config) for stage, names in STEP_STAGES.items()}
        raise ConfigError(f"config key 'arms': unknown step '{name}'; steps defined by the config: {known}")
    return owners[0]


def pre_embedding_steps(config: Mapping[str, Any], arm: str) -> list[Step]:
    """The arm's own steps before embedding training, in order."""
    return [Step(arm, step_stage(config, name), name) for name in get_arm(config, arm).steps]


def embedding_steps(config: Mapping[str, Any], arm: str) -> list[Step]:
    """`base` (pretrained network + pooling) and every contrastive stage, in order."""
    return [Step(arm, EMBED_STAGE, name) for name in embed_stage_names(config)]


def chain(config: Mapping[str, Any], arm: str) -> list[Step]:
    return [*pre_embedding_steps(config, arm), *embedding_steps(config, arm)]


def find_step(config: Mapping[str, Any], arm: str, stage: str, name: str) -> int:
    steps = chain(config, arm)
    for index, step in enumerate(steps):
        if (step.stage, step.name) == (stage, name):
            return index
    raise ConfigError(f"config key 'arms': arm '{arm}' has no {stage} step '{name}' (chain {[s.name for s in steps]})")


def init_source(config: Mapping[str, Any], arm: str) -> str | None:
    """What an arm's first step starts from: a pretrained arm's hub id or local directory
    (`{data_root}` expanded), or None for random init from the arm's model config."""
    entry = get_arm(config, arm)
    return resolve_path(config, str(entry.init_from)) if entry.init == "pretrained" else None


def start_model(config: Mapping[str, Any], arm: str, stage: str, name: str) -> str | None:
    """The model a step starts from: the previous step's output, or the arm's init."""
    index = find_step(config, arm, stage, name)
    return chain(config, arm)[index - 1].model_dir if index else init_source(config, arm)


def backbone_source(config: Mapping[str, Any], arm: str) -> str:
    """The network the `base` embedding model wraps (the last step before embedding training)."""
    source = start_model(config, arm, EMBED_STAGE, BASE_STAGE)
    if source is None:
        raise ConfigError(f"config key 'arms': arm '{arm}' has neither steps nor a pretrained init_from")
    return source


def stage_jobs(config: Mapping[str, Any], stage: str) -> list[Step]:
    """Every step of `stage` across the arms: the jobs of that stage's training rule."""
    return [step for raw in config["arms"] for step in pre_embedding_steps(config, raw["name"]) if step.stage == stage]
