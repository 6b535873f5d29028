"""LoRA for the LLM2Vec steps, through `peft`: adapters on every projection while training, merged
into the weights before saving, so the next step (and the embed stage) loads a plain model.

MNTP wraps its causal LM in a PeftModel, which the transformers Trainer checkpoints and resumes as
adapters. SimCSE adds the adapters through sentence-transformers' own `add_adapter` (transformers'
PEFT integration), because the sentence-transformers trainer resumes by loading a checkpoint into
the model's own state dict, whose keys a PeftModel wrapper would change; that integration has no
merge, so `merge_adapters` folds each adapted layer into its base layer with peft's own `merge`.
"""

from __future__ import annotations

import logging
from typing import Any

from twinarch.llm2vec.config import LoraSettings

log = logging.getLogger(__name__)


def lora_config(settings: LoraSettings) -> Any:
    """LLM2Vec's `initialize_peft`: the adapters only, no bias, no task head."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )


def add_lora(model: Any, settings: LoraSettings, activation_checkpointing: bool = False) -> Any:
    """`model` wrapped in a PeftModel whose only trainable weights are the adapters."""
    from peft import get_peft_model

    if activation_checkpointing:
        # Frozen embeddings give checkpointed blocks inputs without grad; peft's documented remedy.
        model.enable_input_require_grads()
    wrapped = get_peft_model(model, lora_config(settings))
    trainable, total = wrapped.get_nb_trainable_parameters()
    log.info(
        "LoRA r=%d alpha=%d: %s of %s parameters trainable", settings.r, settings.alpha, f"{trainable:,}", f"{total:,}"
    )
    return wrapped


def add_sentence_adapters(model: Any, settings: LoraSettings, activation_checkpointing: bool = False) -> None:
    """LoRA adapters on a SentenceTransformer's network, through sentence-transformers' `add_adapter`."""
    if activation_checkpointing:
        model[0].auto_model.enable_input_require_grads()
    model.add_adapter(lora_config(settings))


def merged(model: Any) -> Any:
    """A PeftModel's plain model, adapters folded into the weights (any other model as it is)."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model


def merge_adapters(network: Any) -> Any:
    """Fold adapters added through transformers' PEFT integration into the weights and put each
    layer's base layer back in its place, leaving a plain model to save."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, module in list(network.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(network.get_submodule(parent), child, module.get_base_layer())
    network._hf_peft_config_loaded = False  # save_pretrained would otherwise write adapters only
    return network
