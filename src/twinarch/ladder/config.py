"""Typed views of the config's `ladder` section (schema: workflow/schemas/ladder.schema.yaml).

Ettin (Weller et al. 2025, "Seq vs Seq", github.com/JHU-CLSP/ettin-encoder-vs-decoder) trains
encoders and decoders of the same shapes from 17M to 1B parameters with one recipe, and continues
each with the other objective: a decoder trained further with MLM (bidirectional, the masked token
predicted at its own position) and an encoder trained further with CLM (causal mask, the next token
predicted). This section defines those continued-training steps (`cross_objective`, each a named
step an arm lists in its `steps`) and how the validation losses of both objectives are measured
(`losses`); the arms of the ladder are the config's arms of study `ladder`.

A step runs the one pretraining script (twinarch.pretrain.run) on a pretraining stage's shards, with
the spec's `objective` set to the other family's and Ettin's cross-train schedule: warmup, stable,
then a linear decay to 0.02 of the peak (pretraining/configs/cross-train/*/{decoder,encoder}_*.yaml:
t_warmup 3B and t_decay 10B of 50B tokens, alpha_f 0.02; masking 15% for decoder -> MLM).
`run_settings` builds that spec in pretraining's own shape, so the shared recipe (optimizer, masking
split, validation blocks) is the `pretrain` section's.

Free of heavy imports: the workflow reads step names from here at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twinarch.core.config import ConfigError, get_arm
from twinarch.pretrain.config import (
    ARM_KEYS,
    OPERATIONAL_SHARED_KEYS,
    stage_entry,
    stage_names,
)
from twinarch.pretrain.config import _from_mapping as from_mapping

STUDY = "ladder"
CONTINUE_MLM = "continue_mlm"
CONTINUE_CLM = "continue_clm"


@dataclass(frozen=True)
class CrossKind:
    """Which family a kind of step continues and the objective it trains."""

    family: str
    objective: str


KINDS = {CONTINUE_MLM: CrossKind("llama", "mlm"), CONTINUE_CLM: CrossKind("modernbert", "clm")}

# The four models of one size, in the order the cross-objective table prints them.
NATIVE_ENCODER, DECODER_TO_MLM, NATIVE_DECODER, ENCODER_TO_CLM = "encoder", "decoder_mlm", "decoder", "encoder_clm"
ROLE_LABELS = {
    NATIVE_ENCODER: "Encoder (MLM)",
    DECODER_TO_MLM: "Decoder → MLM",
    NATIVE_DECODER: "Decoder (CLM)",
    ENCODER_TO_CLM: "Encoder → CLM",
}
CROSS_ROLES = {CONTINUE_MLM: DECODER_TO_MLM, CONTINUE_CLM: ENCODER_TO_CLM}
NATIVE_ROLES = {"modernbert": NATIVE_ENCODER, "llama": NATIVE_DECODER}
# The family of each model (the architecture it keeps whatever objective it last trained with).
ROLE_FAMILIES = {
    NATIVE_ENCODER: "modernbert",
    DECODER_TO_MLM: "llama",
    NATIVE_DECODER: "llama",
    ENCODER_TO_CLM: "modernbert",
}

# Settings that decide how a job runs, not what it computes: they reach the job from the config at
# run time (pretraining's shape, `operational_settings`), so editing them never retrains a model.
OPERATIONAL_STEP_KEYS = ("checkpoint_every_steps", "log_every_steps")
# What of a step goes into the pretraining spec's `stage` (the rest shapes the optimizer, the
# schedule and the masking, or is operational).
STAGE_KEYS = (
    "token_budget",
    "learning_rate",
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "loop_epochs",
    "deepspeed",
    "activation_checkpointing",
    "eval_every_steps",
)
# The pretrain section's settings a cross-objective step shares (its masking split and validation
# set); the optimizer is shared too, with the step's schedule and weight decay.
SHARED_MASKING_KEYS = ("mask_replace_prob", "random_replace_prob")


@dataclass(frozen=True)
class CrossObjectiveStep:
    """One continued-training step with the other family's objective (defaults: Ettin's cross-train
    configs at 17M-68M; `by_size` holds per-size learning rates and weight decays)."""

    name: str
    kind: str
    shards: str
    token_budget: int = 100_000
    learning_rate: float = 1.5e-3
    weight_decay: float | None = None
    per_device_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    loop_epochs: bool = True
    warmup_ratio: float = 0.06
    decay_ratio: float = 0.2
    min_lr_ratio: float = 0.02
    mlm_probability: float = 0.15
    deepspeed: str | None = None
    activation_checkpointing: bool = False
    eval_every_steps: int = 50
    checkpoint_every_steps: int = 50
    log_every_steps: int = 10
    by_size: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CrossObjectiveStep:
        return from_mapping(cls, raw)

    @property
    def objective(self) -> str:
        return KINDS[self.kind].objective

    def for_size(self, size: str) -> dict[str, float | None]:
        """The learning rate and weight decay of an arm of `size` (None: the pretrain optimizer's)."""
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay, **self.by_size.get(size, {})}


@dataclass(frozen=True)
class LossSettings:
    """Validation losses of both objectives (twinarch.ladder.losses) on one stage's validation blocks;
    `shards` None: the last pretraining stage's."""

    shards: str | None = None
    mlm_probability: float = 0.15
    max_blocks: int = 256
    batch_size: int = 16

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LossSettings:
        return from_mapping(cls, raw)


@dataclass(frozen=True)
class LadderSection:
    cross_objective: tuple[CrossObjectiveStep, ...] = ()
    losses: LossSettings = field(default_factory=LossSettings)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LadderSection:
        raw = config.get(STUDY) or {}
        return cls(
            cross_objective=tuple(CrossObjectiveStep.from_dict(s) for s in raw.get("cross_objective", [])),
            losses=LossSettings.from_dict(raw.get("losses") or {}),
        )


def step_names(config: Mapping[str, Any]) -> list[str]:
    """The names of `config.ladder.cross_objective`: the steps an arm may list in its `steps`
    (what `STEP_STAGES["ladder"]` of twinarch.study.lineage maps the stage to)."""
    return [raw["name"] for raw in (config.get(STUDY) or {}).get("cross_objective", [])]


def step_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for raw in (config.get(STUDY) or {}).get("cross_objective", []):
        if raw["name"] == name:
            return dict(raw)
    raise ConfigError(f"config key 'ladder.cross_objective': no step named '{name}'; steps are {step_names(config)}")


def loss_shards(config: Mapping[str, Any]) -> str:
    """The pretraining stage whose validation blocks every model's losses are measured on."""
    return LadderSection.from_config(config).losses.shards or stage_names(config)[-1]


def run_settings(config: Mapping[str, Any], arm: str, name: str, seed: int) -> dict[str, Any]:
    """What shapes one (arm, step, replicate seed) run, as a twinarch.pretrain.run spec: the step's
    settings (its size's learning rate and weight decay), the shards' stage's `corpora` and
    `seq_len`, the pretrain section's optimizer and masking split, the objective, the schedule, the
    seed and the device; no intervals and no display names. It is the job's param."""
    step = CrossObjectiveStep.from_dict(step_entry(config, name))
    entry = get_arm(config, arm).__dict__
    shards = stage_entry(config, step.shards)
    rates = step.for_size(str(entry["size"]))
    section = config["pretrain"]
    optimizer = {
        **section.get("optimizer", {}),
        "lr_scheduler": "warmup_stable_decay",
        "warmup_ratio": step.warmup_ratio,
    }
    if rates["weight_decay"] is not None:
        optimizer["weight_decay"] = rates["weight_decay"]
    shared: dict[str, Any] = {"optimizer": optimizer, "eval_max_blocks": section["eval_max_blocks"]}
    if step.objective == "mlm":
        shared.update({"mlm_probability": step.mlm_probability, **{k: section[k] for k in SHARED_MASKING_KEYS}})
    stage = {
        "name": step.name,
        "corpora": list(shards["corpora"]),
        "seq_len": shards["seq_len"],
        **{k: getattr(step, k) for k in STAGE_KEYS},
        "learning_rate": rates["learning_rate"],
    }
    return {
        "arm": {k: entry[k] for k in ARM_KEYS},
        "objective": step.objective,
        "stage": stage,
        "pretrain": shared,
        "lr_scheduler_kwargs": {
            "decay_ratio": step.decay_ratio,
            "min_lr_ratio": step.min_lr_ratio,
            "warmup_type": "linear",
            "decay_type": "linear",
        },
        "device": dict(config["device"]),
        "seed": int(seed),
    }


def operational_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """How one step's jobs run (read by the job from the config, not a param), in pretraining's shape."""
    entry = step_entry(config, name)
    section = config["pretrain"]
    return {
        "stage": {k: entry[k] for k in OPERATIONAL_STEP_KEYS if k in entry},
        "pretrain": {k: section[k] for k in OPERATIONAL_SHARED_KEYS if k in section},
    }


def ancestry_steps(config: Mapping[str, Any], arm: str) -> list[str]:
    """Every step name of an arm and of the arms it extends (whose models it continues)."""
    names: list[str] = []
    current: str | None = arm
    while current is not None:
        entry = get_arm(config, current)
        names = [*entry.steps, *names]
        current = entry.extends
    return names


def role(config: Mapping[str, Any], arm: str) -> str:
    """Which of a size's four models an arm is: its family's native model, or a cross-objective one
    when its lineage holds a step of this section."""
    kinds = {step_entry(config, s)["kind"] for s in ancestry_steps(config, arm) if s in step_names(config)}
    if kinds:
        return CROSS_ROLES[kinds.pop()]
    return NATIVE_ROLES[get_arm(config, arm).family]


def check_ladder_section(config: Mapping[str, Any], source: str = "config") -> None:
    """What the schema cannot check: unique step names that no other stage uses, the pretraining
    stages whose shards the steps and the losses read, and that a decoder takes only continue_mlm
    (and stays bidirectional for embedding training, as it is saved) and an encoder only
    continue_clm. Every message names the config key."""
    raw_steps = (config.get(STUDY) or {}).get("cross_objective", [])
    names = [raw["name"] for raw in raw_steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: config key 'ladder.cross_objective': duplicate step names {dupes}")
    taken = set(stage_names(config)) | {s["name"] for s in (config.get("llm2vec") or {}).get("steps", [])}
    clash = sorted(set(names) & taken)
    if clash:
        raise ConfigError(
            f"{source}: config key 'ladder.cross_objective': names {clash} are also pretraining stage or "
            "LLM2Vec step names"
        )
    stages = stage_names(config)
    for i, raw in enumerate(raw_steps):
        if raw["shards"] not in stages:
            raise ConfigError(
                f"{source}: config key 'ladder.cross_objective[{i}].shards': no pretraining stage "
                f"'{raw['shards']}'; stages are {stages}"
            )
    shards = LadderSection.from_config(config).losses.shards
    if shards is not None and shards not in stages:
        raise ConfigError(
            f"{source}: config key 'ladder.losses.shards': no pretraining stage '{shards}'; stages are {stages}"
        )
    kinds = {raw["name"]: raw["kind"] for raw in raw_steps}
    for i, raw in enumerate(config["arms"]):
        listed = [s for s in raw.get("steps", []) if s in kinds]
        for step in listed:
            wanted = KINDS[kinds[step]].family
            if raw["family"] != wanted:
                raise ConfigError(
                    f"{source}: config key 'arms[{i}].steps': step '{step}' ({kinds[step]}) continues a "
                    f"{wanted} model; arm '{raw['name']}' is a {raw['family']}"
                )
            if kinds[step] == CONTINUE_MLM and raw.get("bidirectional") is False:
                raise ConfigError(
                    f"{source}: config key 'arms[{i}].bidirectional': arm '{raw['name']}' trains "
                    f"'{step}' (MLM), which saves its decoder bidirectional; it cannot be embedded causally"
                )
