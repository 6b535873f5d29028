"""Typed views of the config's `llm2vec` section (schema: workflow/schemas/llm2vec.schema.yaml).

LLM2Vec (BehnamGhader et al., 2024) turns a decoder into a text encoder in three steps: switch the
attention to bidirectional, train masked next-token prediction (MNTP), then unsupervised SimCSE.
The paper we rebuild takes only the first step (`config.is_causal = False`, twinarch.embed.model);
this section makes the other two available as training steps that an arm lists in its `steps`
(e.g. `steps: [stage1, stage2, mntp, simcse]`), each step a named entry `{name, kind, ...}`.

Defaults are LLM2Vec's own (github.com/McGill-NLP/llm2vec, experiments/run_mntp.py,
experiments/run_simcse.py, train_configs/mntp/*.json, train_configs/simcse/*.json); where its JSON
files leave a setting out, the transformers TrainingArguments default it ran with is ours too
(AdamW, learning rate 5e-5, linear decay, no warm-up, no weight decay).

Free of heavy imports: the workflow reads step names from here at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from twinarch.core.config import ConfigError, get_arm
from twinarch.embed.config import EmbedStage

MNTP = "mntp"
SIMCSE = "simcse"
KINDS = (MNTP, SIMCSE)
# LLM2Vec's `mask_token_type`: "_" (what it ships), the eos token, or the tokenizer's mask token.
BLANK_MASK_TOKEN = "_"
MASK_TOKEN_TYPES = ("blank", "eos", "mask")
# Every projection of a Llama block: LLM2Vec's `initialize_peft` targets exactly these.
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Only decoders are switched and retrained the LLM2Vec way.
DECODER_FAMILIES = ("llama",)


def _from_mapping(cls: type, raw: Mapping[str, Any]) -> Any:
    """A dataclass from the keys it declares (the schema has already rejected unknown keys)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class LoraSettings:
    """LoRA through `peft` (LLM2Vec: r 16, alpha 2r, dropout 0.05, every projection); a run
    merges the adapters into the weights before saving, so the next step loads a plain model."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LLAMA_PROJECTIONS

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> LoraSettings | None:
        if raw is None:
            return None
        data = dict(raw)
        if "target_modules" in data:
            data["target_modules"] = tuple(data["target_modules"])
        return _from_mapping(cls, data)


def training_mode(lora: LoraSettings | None) -> dict[str, Any] | str:
    """How a step trained, as its manifest says it: LoRA (merged) or full fine-tuning."""
    return {"lora_r": lora.r, "lora_alpha": lora.alpha, "merged": True} if lora else "full"


@dataclass(frozen=True)
class MntpStep:
    """Masked next-token prediction on the arm's own pretraining shards (LLM2Vec's Llama recipe:
    20% of tokens masked, 80/10/10; its Mistral recipe is 80% masked, all with the mask token)."""

    name: str
    shards: str
    kind: str = MNTP
    seq_len: int = 512
    max_steps: int = 1000
    per_device_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    mask_token: str = "blank"
    mlm_probability: float = 0.2
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    lora: LoraSettings | None = None
    loop_epochs: bool = False
    eval_every_steps: int = 100
    eval_max_blocks: int = 256
    activation_checkpointing: bool = False
    checkpoint_every_steps: int = 200
    log_every_steps: int = 10
    keep_checkpoints: int = 2
    dataloader_workers: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MntpStep:
        return _from_mapping(cls, {**raw, "lora": LoraSettings.from_dict(raw.get("lora"))})


@dataclass(frozen=True)
class SimcseStep:
    """Unsupervised SimCSE: each sentence twice through the model with attention dropout, the other
    sentences of the batch as negatives (LLM2Vec: dropout 0.3, loss scale 20, length 128, batch
    128, learning rate 3e-5, 1000 steps)."""

    name: str
    corpora: tuple[str, ...]
    kind: str = SIMCSE
    max_sentences: int = 1_000_000
    min_chars: int = 10
    max_seq_length: int = 128
    per_device_batch_size: int = 128
    mini_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    gather_across_devices: bool = False
    temperature: float = 0.05
    attention_dropout: float = 0.3
    learning_rate: float = 3e-5
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0
    max_steps: int = 1000
    lora: LoraSettings | None = None
    gradient_checkpointing: bool = False
    save_steps: int = 200
    save_total_limit: int = 2
    logging_steps: int = 50
    dataloader_num_workers: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SimcseStep:
        data = {**raw, "corpora": tuple(raw.get("corpora", ())), "lora": LoraSettings.from_dict(raw.get("lora"))}
        return _from_mapping(cls, data)

    def embed_stage(self) -> EmbedStage:
        """The contrastive-stage view that twinarch.embed.run's trainer builder reads: one dataset
        of distinct sentences, so the plain shuffling sampler already keeps duplicates out of a batch."""
        return EmbedStage(
            name=self.name,
            datasets=(),
            max_seq_length=self.max_seq_length,
            temperature=self.temperature,
            per_device_batch_size=self.per_device_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            mini_batch_size=self.mini_batch_size,
            gather_across_devices=self.gather_across_devices,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            lr_scheduler_type=self.lr_scheduler,
            warmup_ratio=self.warmup_ratio,
            max_steps=self.max_steps,
            no_duplicates=False,
            save_steps=self.save_steps,
            save_total_limit=self.save_total_limit,
            logging_steps=self.logging_steps,
            gradient_checkpointing=self.gradient_checkpointing,
            dataloader_num_workers=self.dataloader_num_workers,
        )


STEP_CLASSES = {MNTP: MntpStep, SIMCSE: SimcseStep}

# Settings that decide how a job runs, not what it computes: they reach the job from the config at
# run time instead of through its params, so editing them never retrains a model.
OPERATIONAL_KEYS = {
    MNTP: ("checkpoint_every_steps", "log_every_steps", "keep_checkpoints", "dataloader_workers"),
    SIMCSE: ("save_steps", "save_total_limit", "logging_steps", "dataloader_num_workers"),
}
# Arm keys that shape each kind of step: SimCSE trains through the arm's pooling, MNTP does not.
ARM_KEYS = {MNTP: ("name", "family"), SIMCSE: ("name", "family", "bidirectional", "pooling")}


def section_steps(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((config.get("llm2vec") or {}).get("steps") or [])


def step_names(config: Mapping[str, Any]) -> list[str]:
    """The names of `config.llm2vec.steps`: the steps an arm may list in its `steps`."""
    return [raw["name"] for raw in section_steps(config)]


def step_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for raw in section_steps(config):
        if raw["name"] == name:
            return dict(raw)
    raise ConfigError(f"config key 'llm2vec.steps': no step named '{name}'; steps are {step_names(config)}")


def step_kind(config: Mapping[str, Any], name: str) -> str:
    return str(step_entry(config, name)["kind"])


def names_of_kind(config: Mapping[str, Any], kind: str) -> list[str]:
    return [raw["name"] for raw in section_steps(config) if raw["kind"] == kind]


def read_step(raw: Mapping[str, Any]) -> MntpStep | SimcseStep:
    return STEP_CLASSES[raw["kind"]].from_dict(raw)


def run_settings(config: Mapping[str, Any], arm: str, name: str, seed: int) -> dict[str, Any]:
    """What shapes one (arm, step) run: the step's settings (not its siblings'), the arm keys that
    kind of step reads, the seed and the device; no logging or checkpoint intervals. It is the
    job's param, so editing anything else re-runs nothing."""
    entry = step_entry(config, name)
    kind = entry["kind"]
    arm_entry = get_arm(config, arm).__dict__
    return {
        "arm": {k: arm_entry[k] for k in ARM_KEYS[kind]},
        "step": {k: v for k, v in entry.items() if k not in OPERATIONAL_KEYS[kind]},
        "device": dict(config["device"]),
        "seed": int(seed),
    }


def operational_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """How one step's jobs run (read by the job from the config, not a param)."""
    entry = step_entry(config, name)
    return {k: entry[k] for k in OPERATIONAL_KEYS[entry["kind"]] if k in entry}


def check_llm2vec_section(config: Mapping[str, Any], source: str = "config") -> None:
    """What the schema cannot check: unique step names, the pretraining stage whose shards MNTP
    reads (and that its windows fit in that stage's blocks), SimCSE's corpora, and that only
    bidirectional decoder arms list these steps. Every message names the config key."""
    steps = section_steps(config)
    names = [raw["name"] for raw in steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: config key 'llm2vec.steps': duplicate step names {dupes}")
    stages = {s["name"]: s for s in config["pretrain"]["stages"]}
    clash = sorted(set(names) & set(stages))
    if clash:
        raise ConfigError(f"{source}: config key 'llm2vec.steps': names {clash} are also pretraining stage names")
    corpora = config.get("corpora", {})
    for i, raw in enumerate(steps):
        key = f"{source}: config key 'llm2vec.steps[{i}]"
        if raw["kind"] == MNTP:
            stage = stages.get(raw["shards"])
            if stage is None:
                raise ConfigError(f"{key}.shards': no pretraining stage '{raw['shards']}'; stages are {sorted(stages)}")
            if raw["seq_len"] > stage["seq_len"]:
                raise ConfigError(
                    f"{key}.seq_len': {raw['seq_len']} is longer than the blocks of stage '{stage['name']}' "
                    f"({stage['seq_len']} tokens), which MNTP cuts into windows"
                )
        else:
            unknown = [c for c in raw["corpora"] if c not in corpora]
            if unknown:
                raise ConfigError(f"{key}.corpora': unknown corpora {unknown}; config.corpora has {sorted(corpora)}")
    for i, raw in enumerate(config["arms"]):
        listed = [s for s in raw.get("steps", []) if s in names]
        if listed and (raw["family"] not in DECODER_FAMILIES or not raw.get("bidirectional", True)):
            raise ConfigError(
                f"{source}: config key 'arms[{i}].steps': LLM2Vec steps {listed} train bidirectional "
                f"decoders; arm '{raw['name']}' is family '{raw['family']}', "
                f"bidirectional {raw.get('bidirectional', True)}"
            )
