"""An arm's lineage: the training steps its model goes through, and what each one starts from.

An arm's chain is data. An arm trained from scratch starts from random weights, which its first
step draws itself from the replicate seed and the arm's model config (`results/models/<arm>/
config.json`): no job writes them, since drawing them costs less than the start-up of a job. A
pretrained arm starts from its `init_from` (a hub id or local directory). Then come its `steps` (the
pretraining stages of `config.pretrain.stages`, in order; none for a no-pretraining control), then
the embedding stages every arm shares (`base`, the network with its pooling, then `config.embed.stages`:
the paper's WSL and FT). Each step is made by one stage's rule and writes
`results/<stage>/<arm>/seed_<seed>/<step>/model`, one chain per replicate seed of `config.seeds`; it
starts from the previous step's model. This module is the one place that knows the order, so a new
step kind is one entry in `STEP_STAGES` plus the new stage's own files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError, get_arm, resolve_path
from twinarch.embed.config import embed_stage_names
from twinarch.ladder.config import step_names as ladder_step_names
from twinarch.llm2vec.config import step_names as llm2vec_step_names
from twinarch.pretrain.config import stage_names as pretrain_stage_names

# Stages whose steps an arm lists in `steps`, each with the step names its config section defines.
STEP_STAGES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "pretrain": pretrain_stage_names,
    "llm2vec": llm2vec_step_names,
    "ladder": ladder_step_names,
}
EMBED_STAGE = "embed"


@dataclass(frozen=True)
class Step:
    """One step of an arm's chain: made by the rules of `stage`, named `name` within it."""

    arm: str
    stage: str
    name: str

    def model_dir(self, seed: int | str) -> str:
        return f"results/{self.stage}/{self.arm}/seed_{seed}/{self.name}/model"


def seeds(config: Mapping[str, Any]) -> list[int]:
    """The replicate seeds: every stochastic step of every arm runs once per seed."""
    return [int(s) for s in config["seeds"]]


def step_stage(config: Mapping[str, Any], name: str) -> str:
    """The stage that defines a step name listed in an arm's `steps`."""
    owners = [stage for stage, names in STEP_STAGES.items() if name in names(config)]
    if not owners:
        known = {stage: names(config) for stage, names in STEP_STAGES.items()}
        raise ConfigError(f"config key 'arms': unknown step '{name}'; steps defined by the config: {known}")
    return owners[0]


def pre_embedding_steps(config: Mapping[str, Any], arm: str) -> list[Step]:
    """The arm's steps before embedding training, in order: the chain of the arm it extends (whose
    models it shares), then its own steps."""
    entry = get_arm(config, arm)
    start = pre_embedding_steps(config, entry.extends) if entry.extends else []
    return [*start, *(Step(arm, step_stage(config, name), name) for name in entry.steps)]


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
    """What a pretrained arm's first step starts from: its hub id or local directory (`{data_root}`
    expanded); None for an arm trained from scratch, whose first step draws random weights. An arm
    that extends another starts where the other does."""
    entry = get_arm(config, arm)
    if entry.extends:
        return init_source(config, entry.extends)
    return resolve_path(config, str(entry.init_from)) if entry.init == "pretrained" else None


def start_model(config: Mapping[str, Any], arm: str, stage: str, name: str, seed: int | str) -> str | None:
    """The model a step of replicate `seed` starts from: the previous step's output, or the arm's
    init (None for the first step of an arm trained from scratch: random weights from its model config)."""
    index = find_step(config, arm, stage, name)
    return chain(config, arm)[index - 1].model_dir(seed) if index else init_source(config, arm)


def stage_jobs(config: Mapping[str, Any], stage: str) -> list[tuple[str, int, str]]:
    """(arm, seed, step) of every step of `stage` across the arms and seeds: the jobs of that
    stage's training rule."""
    return [
        (step.arm, seed, step.name)
        for raw in config["arms"]
        for step in pre_embedding_steps(config, raw["name"])
        if step.stage == stage and step.arm == raw["name"]  # an extended arm's steps are its own jobs
        for seed in seeds(config)
    ]
