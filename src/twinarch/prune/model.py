"""The pruned embedding model: a ModernBERT or Llama network some of whose layers have no MLP sublayer.

Dropping an MLP removes its whole branch, the pre-norm included (Llama's `post_attention_layernorm`,
ModernBERT's `mlp_norm`): the layer becomes `h + attention(norm(h))`, its MLP weights are gone from
the module tree and from the saved safetensors, and the forward pass never touches them. This is
LLM-Drop's design (CASE-Lab-UMD/LLM-Drop, models/modeling_dropped_llama.py: `drop_mlp_list` in the
config, the MLP and its norm set to None). A replacement MLP that returns zeros would keep the
pre-norm, a zero tensor and an addition per dropped layer. Measured on the shared 2-core CPU
(encode, batch 32 x 128 tokens, one thread, 8 layers of hidden 256 and MLP 1024, every other MLP
dropped, median of 15 interleaved rounds, two runs), removing the branch was the faster of the two
in both runs: ModernBERT 27.0 and 32.8 samples/s against 24.9 and 30.9 with zero MLPs (unpruned
18.6 and 21.7), Llama 51.8 and 25.9 against 50.9 and 24.0 (unpruned 37.5 and 17.9; the machine's
load differed between the runs).

How a pruned directory loads without `trust_remote_code`: sentence-transformers 6 refuses any module
class outside its own namespace unless `trust_remote_code=True` (sentence_transformers/util/misc.py,
`import_module_class`, "versionchanged 6.0"), so a custom module class in modules.json would force
every reader (evaluation, profiling) to trust code. Instead the directory is a plain
SentenceTransformer directory (its own Transformer, Pooling and Normalize modules) whose config.json
has its own `model_type` (`twinarch_pruned_llama`, `twinarch_pruned_modernbert`) and the
`dropped_mlp_layers` list; `register_pruned_architectures` registers those types with transformers'
Auto classes (`AutoConfig.register`, `AutoModel.register`, the documented way to extend them). Any
process that has called it loads the directory with `SentenceTransformer(path)`; one that has not
fails loudly on the unknown model type instead of silently re-initialising the dropped MLPs, which
is what keeping the base `model_type` would do. Loading thus needs twinarch importable, as the
workflow's jobs have it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoConfig, AutoModel, LlamaConfig, LlamaModel, ModernBertConfig, ModernBertModel
from transformers.initialization import no_init_weights
from transformers.models.llama.modeling_llama import LlamaDecoderLayer
from transformers.models.modernbert.modeling_modernbert import ModernBertEncoderLayer

from twinarch.embed.model import load_embedding_model
from twinarch.pretrain.models import count_parameters

log = logging.getLogger(__name__)

PRUNED_LLAMA = "twinarch_pruned_llama"
PRUNED_MODERNBERT = "twinarch_pruned_modernbert"


# ----------------------------------------------------------------------------- configs


class PrunedLlamaConfig(LlamaConfig):
    """A Llama config whose layers listed in `dropped_mlp_layers` have no MLP sublayer."""

    model_type = PRUNED_LLAMA
    dropped_mlp_layers: list[int] | None = None


class PrunedModernBertConfig(ModernBertConfig):
    """A ModernBERT config whose layers listed in `dropped_mlp_layers` have no MLP sublayer."""

    model_type = PRUNED_MODERNBERT
    dropped_mlp_layers: list[int] | None = None


# ----------------------------------------------------------------------------- attention-only layers
# Each adopts the attention half of an existing layer. `nn.Module.__init__`, not the parent's: the
# parent's constructor would build the very MLP that is dropped. Subclassing the family's layer keeps
# transformers' hidden-state recording (`_can_record_outputs` matches the layer class) and gradient
# checkpointing (GradientCheckpointingLayer wraps every subclass's forward). The forwards are the
# attention half of the library's layer forward, written out because no library skips a sublayer.


class LlamaAttentionOnlyLayer(LlamaDecoderLayer):
    def __init__(self, layer: LlamaDecoderLayer) -> None:
        torch.nn.Module.__init__(self)
        self.hidden_size = layer.hidden_size
        self.self_attn = layer.self_attn
        self.input_layernorm = layer.input_layernorm

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Any = None,
        use_cache: bool | None = False,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        attention, _ = self.self_attn(
            hidden_states=self.input_layernorm(hidden_states),
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            position_embeddings=position_embeddings,
            **kwargs,
        )
        return hidden_states + attention


class ModernBertAttentionOnlyLayer(ModernBertEncoderLayer):
    def __init__(self, layer: ModernBertEncoderLayer) -> None:
        torch.nn.Module.__init__(self)
        self.config = layer.config
        self.layer_idx = layer.layer_idx
        self.attention_type = layer.attention_type  # ModernBertModel picks the layer's mask by it
        self.attn_norm = layer.attn_norm
        self.attn = layer.attn

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        attention, _ = self.attn(
            self.attn_norm(hidden_states),
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            **kwargs,
        )
        return hidden_states + attention


# ----------------------------------------------------------------------------- models


def _drop_listed_mlps(model: Any, attention_only: type) -> None:
    """Replace the layers that `config.dropped_mlp_layers` lists by attention-only ones."""
    for index in model.config.dropped_mlp_layers or []:
        model.layers[index] = attention_only(model.layers[index])


class PrunedLlamaModel(LlamaModel):
    config_class = PrunedLlamaConfig

    def __init__(self, config: PrunedLlamaConfig) -> None:
        super().__init__(config)
        _drop_listed_mlps(self, LlamaAttentionOnlyLayer)


class PrunedModernBertModel(ModernBertModel):
    config_class = PrunedModernBertConfig

    def __init__(self, config: PrunedModernBertConfig) -> None:
        super().__init__(config)
        _drop_listed_mlps(self, ModernBertAttentionOnlyLayer)


@dataclass(frozen=True)
class Family:
    """What pruning needs to know of one family: its pruned classes and the MLP's pre-norm."""

    config_class: type
    model_class: type
    mlp_norm: str


FAMILIES = {
    "llama": Family(PrunedLlamaConfig, PrunedLlamaModel, "post_attention_layernorm"),
    "modernbert": Family(PrunedModernBertConfig, PrunedModernBertModel, "mlp_norm"),
}
FAMILY_OF_MODEL_TYPE = {
    "llama": "llama",
    PRUNED_LLAMA: "llama",
    "modernbert": "modernbert",
    PRUNED_MODERNBERT: "modernbert",
}


def register_pruned_architectures() -> None:
    """Make transformers' Auto classes (and so SentenceTransformer) load pruned directories."""
    for family in FAMILIES.values():
        AutoConfig.register(family.config_class.model_type, family.config_class, exist_ok=True)
        AutoModel.register(family.config_class, family.model_class, exist_ok=True)


def family_of(network: Any) -> Family:
    model_type = network.config.model_type
    if model_type not in FAMILY_OF_MODEL_TYPE:
        raise ValueError(f"cannot prune a '{model_type}' network; prunable: {sorted(FAMILY_OF_MODEL_TYPE)}")
    return FAMILIES[FAMILY_OF_MODEL_TYPE[model_type]]


def dropped_mlp_layers(network: Any) -> list[int]:
    return list(getattr(network.config, "dropped_mlp_layers", None) or [])


def mlp_branch_parameters(network: Any, index: int) -> int:
    """Parameters of layer `index`'s MLP branch (the MLP and its pre-norm): what dropping it removes."""
    layer = network.layers[index]
    branch = [layer.mlp, getattr(layer, family_of(network).mlp_norm)]
    return sum(p.numel() for module in branch for p in module.parameters())


def non_embedding_parameters(model: SentenceTransformer) -> int:
    """The backbone's parameters without its token embeddings (twinarch.pretrain.models' count)."""
    return count_parameters(model[0].auto_model).non_embedding


# ----------------------------------------------------------------------------- pruning


def pruned_config(config: Any, layers: Iterable[int]) -> Any:
    """The pruned family config equal to `config` but for the (further) dropped MLP layers."""
    family = FAMILIES[FAMILY_OF_MODEL_TYPE[config.model_type]]
    settings = {k: v for k, v in config.to_dict().items() if k not in ("model_type", "architectures")}
    dropped = sorted(set(settings.pop("dropped_mlp_layers", None) or []) | set(layers))
    new = family.config_class.from_dict(
        {**settings, "dropped_mlp_layers": dropped}, attn_implementation=config._attn_implementation
    )
    new.architectures = [family.model_class.__name__]
    return new


def drop_mlps(model: SentenceTransformer, layers: Sequence[int]) -> SentenceTransformer:
    """Remove the MLP branches of `layers` from the model's network, in place (and return the model).

    The pruned network is built without initialising weights and then takes the kept weights of the
    old one with `load_state_dict(strict=True)`: every weight it has comes from the old network, and
    nothing it lacks is loaded. Dropping a layer twice, or one the network does not have, is an error.
    """
    transformer = model[0]
    network = transformer.auto_model
    count = network.config.num_hidden_layers
    already = set(dropped_mlp_layers(network))
    bad = sorted(i for i in layers if not 0 <= i < count or i in already)
    if bad or len(set(layers)) != len(layers):
        raise ValueError(f"cannot drop MLP layers {list(layers)}: {count} layers, already dropped {sorted(already)}")
    family = family_of(network)
    config = pruned_config(network.config, layers)
    with no_init_weights():
        pruned = family.model_class(config)
    kept = set(pruned.state_dict())
    pruned.load_state_dict({k: v for k, v in network.state_dict().items() if k in kept}, strict=True)
    pruned.to(device=network.device, dtype=network.dtype).train(network.training)
    transformer.model = pruned
    log.info("dropped the MLPs of layers %s (now %s of %d)", sorted(layers), config.dropped_mlp_layers, count)
    return model


def load_pruned_model(
    path: str | Path, device: str | None = None, attn_implementation: str | None = None
) -> SentenceTransformer:
    """Load a saved embedding model, pruned or not (local files only, no remote code)."""
    register_pruned_architectures()
    return load_embedding_model(path, device=device, attn_implementation=attn_implementation)
