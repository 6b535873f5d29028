"""Model families, size presets, parameter matching and the Hugging Face configs every arm is built from.

The two families are the library's own classes: ModernBERT (`ModernBertForMaskedLM`, the encoder) and
Llama (`LlamaForCausalLM`, the decoder). A size is either a fixed shape (the Ettin ladder, the tiny
demo/jmini sizes) or a parameter-matching target (the paper's 0.5B pair, `matched`), for which each
family gets its own depth and MLP width so that both have the same number of non-embedding
parameters.

Parameter counts are exact: they come from instantiating the real model classes on the `meta`
device (no memory, no weights), never from hand-written formulas that drift with library versions.
"Non-embedding parameters" are the backbone's (the part that becomes the sentence encoder) minus its
token embeddings; the pretraining heads (ModernBERT's MLM head, Llama's `lm_head`) are counted apart
because embedding training discards them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoTokenizer,
    LlamaConfig,
    ModernBertConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from twinarch.core import hub
from twinarch.core.config import FAMILIES, ConfigError
from twinarch.core.io import atomic_write_text
from twinarch.data.tokenizer import special_token_ids

MATCHED = "matched"
FROM_PRETRAINED = "from-pretrained"
CONFIG_CLASSES: dict[str, type[PretrainedConfig]] = {"modernbert": ModernBertConfig, "llama": LlamaConfig}
ARCHITECTURES = {"modernbert": "ModernBertForMaskedLM", "llama": "LlamaForCausalLM"}
# Special token ids each family's config takes (keyword names as twinarch.data.tokenizer.special_token_ids
# returns them).
FAMILY_SPECIAL_IDS = {
    "modernbert": ("pad_token_id", "bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id", "mask_token_id"),
    "llama": ("pad_token_id", "bos_token_id", "eos_token_id"),
}


@dataclass(frozen=True)
class Shape:
    """The four numbers that size a transformer of either family."""

    layers: int
    hidden: int
    intermediate: int
    heads: int


@dataclass(frozen=True)
class MatchTarget:
    """A non-embedding parameter count that both families must hit within `tolerance` (relative).

    Width and heads are shared; depth is shared too when `layers` is given, else chosen (the same for
    both families where possible) so that the MLP width stays closest to `mlp_ratio` x hidden.
    """

    non_embedding_params: int
    hidden: int
    heads: int
    layers: int | None = None
    mlp_ratio: float = 3.0
    intermediate_multiple: int = 32
    tolerance: float = 0.01
    max_layers: int = 64

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MatchTarget:
        return cls(
            non_embedding_params=int(raw["target_non_embedding_params"]),
            hidden=int(raw["hidden_size"]),
            heads=int(raw["num_attention_heads"]),
            layers=raw.get("num_hidden_layers"),
            mlp_ratio=float(raw.get("mlp_ratio", 3.0)),
            intermediate_multiple=int(raw.get("intermediate_multiple", 32)),
            tolerance=float(raw.get("tolerance", 0.01)),
            max_layers=int(raw.get("max_layers", 64)),
        )


# Ettin ladder (Weller et al. 2025, paired encoders and decoders of identical shape): layers, hidden,
# intermediate (per GLU branch), heads.
ETTIN_LADDER: dict[str, Shape] = {
    "ettin-17m": Shape(7, 256, 384, 4),
    "ettin-32m": Shape(10, 384, 576, 6),
    "ettin-68m": Shape(19, 512, 768, 8),
    "ettin-150m": Shape(22, 768, 1152, 12),
    "ettin-400m": Shape(28, 1024, 2624, 16),
    "ettin-1b": Shape(28, 1792, 3840, 28),
}

PRESETS: dict[str, Shape | MatchTarget] = {
    # ~0.66M non-embedding parameters: each demo stage trains in seconds on 2 CPU cores.
    "demo-tiny": Shape(4, 128, 256, 4),
    # ~1.5M: jmini's arms. On this 2-core CPU it pretrains at ~2,600 tokens/s per core against ~1,000
    # for jmini-small (benchmarks/bench_jmini_shapes.py), so jmini can afford real pretraining.
    "jmini-tiny": Shape(4, 192, 384, 4),
    # ~3.9M non-embedding parameters: the jmini study fits in an hour on 2 CPU cores.
    "jmini-small": Shape(6, 256, 512, 4),
    **ETTIN_LADDER,
    # The paper's pair: 0.5B non-embedding parameters each. MIREI initialises its Llama-JP-0.5B from
    # sbintuitions/sarashina2.2-0.5b's config (hidden 1280, 16 heads, 24 layers); the encoder's
    # settings are aligned to it. Here both keep that width, heads and depth, and each family's MLP
    # width is solved so that the two non-embedding counts agree within 1%.
    "paper-0.5b": MatchTarget(500_000_000, hidden=1280, heads=16, layers=24, mlp_ratio=3.5),
}


@dataclass(frozen=True)
class ParamCounts:
    embedding: int
    non_embedding: int
    total: int
    pretraining_head: int


def family_overrides(models: Mapping[str, Any], family: str) -> dict[str, Any]:
    """Extra Hugging Face config keys for one family (`models.modernbert` / `models.llama`), checked
    against the config class so that a typo fails instead of becoming an ignored attribute."""
    overrides = dict(models.get(family, {}) or {})
    known = CONFIG_CLASSES[family]()
    for key in overrides:
        if not hasattr(known, key):
            raise ConfigError(
                f"config key 'models.{family}.{key}': {CONFIG_CLASSES[family].__name__} has no such setting"
            )
    return overrides


def _family_config(
    family: str,
    shape: Shape,
    overrides: Mapping[str, Any],
    vocab_size: int,
    special_ids: Mapping[str, int | None],
    max_position_embeddings: int,
) -> PretrainedConfig:
    if family not in CONFIG_CLASSES:
        raise ConfigError(f"unknown model family '{family}'; known: {sorted(CONFIG_CLASSES)}")
    # ModernBertConfig defaults its special ids to 50281-50283, outside any small vocabulary: every
    # id the family uses comes from the shared tokenizer.
    kwargs: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "max_position_embeddings": max_position_embeddings,
        **{key: special_ids.get(key) for key in FAMILY_SPECIAL_IDS[family]},
    }
    kwargs.update(overrides)
    if family == "llama":
        kv_heads = kwargs.get("num_key_value_heads") or shape.heads
        if shape.heads % kv_heads:
            raise ConfigError(
                f"config key 'models.llama.num_key_value_heads': {kv_heads} does not divide the "
                f"{shape.heads} attention heads of the size {shape}"
            )
        kwargs["num_key_value_heads"] = kv_heads
    if shape.hidden % shape.heads:
        raise ConfigError(f"hidden size {shape.hidden} is not divisible by {shape.heads} heads ({shape})")
    config = CONFIG_CLASSES[family](**kwargs)
    config.architectures = [ARCHITECTURES[family]]
    return config


def model_class(family: str) -> Any:
    """The Auto class for a family's pretraining objective (MLM for the encoder, CLM for the decoder)."""
    return AutoModelForMaskedLM if FAMILIES[family] == "mlm" else AutoModelForCausalLM


def count_parameters(model: PreTrainedModel) -> ParamCounts:
    """Embedding / non-embedding / backbone-total / pretraining-head counts of one model (tied
    weights counted once)."""

    def unique(params: Any) -> dict[int, int]:
        return {id(p): p.numel() for p in params}

    everything = unique(model.parameters())
    backbone = unique(model.base_model.parameters())
    embedding = unique(model.get_input_embeddings().parameters())
    return ParamCounts(
        embedding=sum(embedding.values()),
        non_embedding=sum(v for k, v in backbone.items() if k not in embedding),
        total=sum(backbone.values()),
        pretraining_head=sum(v for k, v in everything.items() if k not in backbone),
    )


def count_config_parameters(config: PretrainedConfig) -> ParamCounts:
    """Exact counts of the model a config builds, instantiated on the meta device (no memory)."""
    family = config.model_type
    with torch.device("meta"):
        model = model_class(family).from_config(config)
    return count_parameters(model)


def non_embedding_params(family: str, shape: Shape, overrides: Mapping[str, Any] | None = None) -> int:
    """Non-embedding parameters of a family at a shape (independent of the vocabulary)."""
    ids = {key: 0 for key in FAMILY_SPECIAL_IDS[family]}
    config = _family_config(family, shape, overrides or {}, vocab_size=8, special_ids=ids, max_position_embeddings=64)
    return count_config_parameters(config).non_embedding


@dataclass(frozen=True)
class _AffineCount:
    """Non-embedding count of a family as `fixed + layers * (per_layer + (width/m - 1) * per_width_unit)`:
    counts are affine in depth and in MLP width, so three exact (meta) counts determine them."""

    fixed: int
    per_layer: int
    per_width_unit: int
    unit: int

    @classmethod
    def measure(cls, family: str, target: MatchTarget, overrides: Mapping[str, Any]) -> _AffineCount:
        m = target.intermediate_multiple

        def count(n_layers: int, width: int) -> int:
            return non_embedding_params(family, Shape(n_layers, target.hidden, width, target.heads), overrides)

        base = count(1, m)
        per_layer = count(2, m) - base
        return cls(base - per_layer, per_layer, count(1, 2 * m) - base, m)

    def at(self, layers: int, width: int) -> int:
        return self.fixed + layers * (self.per_layer + (width // self.unit - 1) * self.per_width_unit)

    def solve_width(self, layers: int, target: int) -> int:
        """The MLP width (a multiple of the unit) whose count at `layers` is closest to `target`."""
        units = ((target - self.fixed) / layers - self.per_layer) / self.per_width_unit
        return max(1, round(units) + 1) * self.unit


def match_shapes(
    target: MatchTarget, families: tuple[str, ...] = ("modernbert", "llama"), models: Mapping[str, Any] | None = None
) -> dict[str, Shape]:
    """One shape per family whose non-embedding counts all lie within `tolerance`/2 of the target
    (so within `tolerance` of each other), sharing hidden size, heads and, where possible, depth.

    Among feasible depths the one whose MLP widths stay closest to `mlp_ratio` x hidden wins.
    """
    models = models or {}
    overrides = {f: family_overrides(models, f) for f in families}
    affine = {f: _AffineCount.measure(f, target, overrides[f]) for f in families}
    goal = target.non_embedding_params
    depths = [target.layers] if target.layers else range(1, target.max_layers + 1)
    best: tuple[float, float, dict[str, Shape]] | None = None
    for layers in depths:
        widths = {f: a.solve_width(layers, goal) for f, a in affine.items()}
        worst = max(abs(affine[f].at(layers, w) - goal) / goal for f, w in widths.items())
        ratio_cost = sum(abs(math.log(w / (target.mlp_ratio * target.hidden))) for w in widths.values())
        key = (0.0 if worst <= target.tolerance / 2 else worst, ratio_cost)
        if best is None or key < best[:2]:
            best = (*key, {f: Shape(layers, target.hidden, w, target.heads) for f, w in widths.items()})
    assert best is not None
    shapes = best[2]
    counts = {f: non_embedding_params(f, s, overrides[f]) for f, s in shapes.items()}
    spread = (max(counts.values()) - min(counts.values())) / target.non_embedding_params
    if spread > target.tolerance:
        raise ConfigError(
            f"cannot match {target.non_embedding_params:,} non-embedding parameters within "
            f"{target.tolerance:.1%} at hidden {target.hidden} and {target.heads} heads (best: {counts}); "
            "lower models.match.intermediate_multiple or free num_hidden_layers"
        )
    return shapes


def resolve_size(size: str, models: Mapping[str, Any]) -> Shape | MatchTarget:
    """A size name from an arm: `matched` (config.models.match), a configured or built-in preset."""
    if size == MATCHED:
        if not models.get("match"):
            raise ConfigError("an arm has size 'matched' but config key 'models.match' is not set")
        return MatchTarget.from_dict(models["match"])
    configured = models.get("presets", {}) or {}
    if size in configured:
        raw = configured[size]
        return Shape(raw["num_hidden_layers"], raw["hidden_size"], raw["intermediate_size"], raw["num_attention_heads"])
    if size in PRESETS:
        return PRESETS[size]
    known = sorted([*PRESETS, *configured, MATCHED])
    raise ConfigError(f"unknown model size '{size}'; known sizes: {known}")


def shape_for(family: str, size: str, models: Mapping[str, Any]) -> Shape:
    """The shape one family gets at a size (matching both families when the size is a target)."""
    resolved = resolve_size(size, models)
    if isinstance(resolved, Shape):
        return resolved
    return match_shapes(resolved, models=models)[family]


def build_model_config(
    family: str, size: str, tokenizer: PreTrainedTokenizerBase, models: Mapping[str, Any]
) -> PretrainedConfig:
    """The random-init config of one family at one size, on the shared tokenizer's vocabulary and ids."""
    ids = special_token_ids(tokenizer)
    missing = [key for key in FAMILY_SPECIAL_IDS[family] if ids.get(key) is None]
    if missing:
        raise ConfigError(f"the shared tokenizer lacks {missing}; the {family} family needs them")
    return _family_config(
        family,
        shape_for(family, size, models),
        family_overrides(models, family),
        vocab_size=len(tokenizer),
        special_ids=ids,
        max_position_embeddings=int(models.get("max_position_embeddings", 8192)),
    )


def arm_model_config(
    arm: Mapping[str, Any], models: Mapping[str, Any], tokenizer_dir: str | Path | None, init_from: str | None = None
) -> PretrainedConfig:
    """The config an arm's model is built from: its pretrained model's own config for `init:
    pretrained` (`init_from`, a hub id read from the hub mirror when it holds a copy, or a local
    directory), else its family at its size on the shared tokenizer's vocabulary and special ids."""
    if arm.get("init", "scratch") == "pretrained":
        if not init_from:
            raise ConfigError(f"config key 'arms': arm '{arm['name']}' is pretrained but has no init_from")
        return AutoConfig.from_pretrained(hub.resolve(init_from))
    if tokenizer_dir is None:
        raise ValueError(f"arm '{arm['name']}' is trained from scratch: pass the shared tokenizer directory")
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    return build_model_config(arm["family"], arm["size"], tokenizer, models)


def random_model(model_config_dir: str | Path, family: str, seed: int, **kwargs: Any) -> PreTrainedModel:
    """An arm's random initial weights for one replicate seed, drawn from its model config: where
    an arm trained from scratch starts (its first pretraining stage draws them, as does the base
    model of a no-pretraining control). The same seed draws the same weights in every job."""
    from transformers import set_seed

    set_seed(seed)
    return model_class(family).from_config(AutoConfig.from_pretrained(str(model_config_dir)), **kwargs)


def initialize_model(
    model_config_dir: str | Path, tokenizer_dir: str | Path, family: str, seed: int, out_dir: str | Path
) -> Path:
    """`random_model` saved with the tokenizer as a model directory, for what loads models from one
    (sentence-transformers' Transformer module)."""
    from twinarch.core.io import atomic_dir

    model = random_model(model_config_dir, family, seed)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(tmp)
    return Path(out_dir)


def write_model_config(model_config: PretrainedConfig, path: str | Path) -> Path:
    """Write `config.json` atomically; `AutoConfig.from_pretrained(<its folder>)` loads it."""
    return atomic_write_text(path, model_config.to_json_string(use_diff=False))


def shape_of(model_config: PretrainedConfig) -> Shape:
    return Shape(
        model_config.num_hidden_layers,
        model_config.hidden_size,
        model_config.intermediate_size,
        model_config.num_attention_heads,
    )


def param_count_row(arm: str, model_config: PretrainedConfig) -> dict[str, Any]:
    """One row of results/models/param_counts.csv."""
    counts = count_config_parameters(model_config)
    shape = shape_of(model_config)
    return {
        "arm": arm,
        "family": model_config.model_type,
        **asdict(shape),
        "embedding_params": counts.embedding,
        "non_embedding_params": counts.non_embedding,
        "total_params": counts.total,
        "pretraining_head_params": counts.pretraining_head,
    }


def write_param_counts(model_configs: Mapping[str, str | Path], prefix: str | Path) -> list[Path]:
    """results/models/param_counts.{csv,md,tex}: one row per arm, from each arm's config.json."""
    import pandas as pd

    from twinarch.core.tables import write_table

    rows = [
        param_count_row(arm, AutoConfig.from_pretrained(str(Path(path).parent))) for arm, path in model_configs.items()
    ]
    return write_table(
        pd.DataFrame(rows),
        prefix,
        caption="Parameters per arm",
        notes=["Non-embedding: the backbone without token embeddings; pretraining heads are counted apart."],
    )
