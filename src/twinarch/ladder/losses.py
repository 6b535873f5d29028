"""Validation losses of both objectives for any model of the ladder (Ettin's four per size).

Each objective is scored the way it is trained (twinarch.pretrain.run.use_objective), whatever the
model was trained with:

- MLM loss: the model attends bidirectionally (a decoder gets `config.is_causal = False`; a
  ModernBERT is bidirectional as loaded), the validation blocks are masked once with the data seed
  (the configured share, 80/10/10 as in pretraining, by transformers' masking collator), and the
  cross entropy of the LM head's logit at each masked position against the token there is averaged
  over the masked positions only (labels are -100 elsewhere; no shift). The MLM loss of a
  CLM-trained model means something once it is bidirectional; the native decoder's is its loss
  before any MLM training.
- CLM loss: the model attends causally (a decoder's own mask; a ModernBERT gets the causal masks of
  `causal_modernbert`), and the logit at position i is scored against the token at i + 1 over every
  position but the last (transformers' ForCausalLM loss, which shifts the labels), so an encoder's
  MLM head serves as the LM head with the shift.

Both are means over the scored tokens of all blocks (each batch's mean weighted by its count), from
the model's own loss function; the masks depend on the data seed only, so every model of the study
is scored on the same masked positions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel, default_data_collator

from twinarch.core.device import resolve_device_settings
from twinarch.core.io import atomic_write_json
from twinarch.core.provenance import provenance
from twinarch.data.tokenizer import tokenizer_hash
from twinarch.ladder.config import LossSettings
from twinarch.pretrain.data import (
    FixedLabelDataset,
    PackedBlocks,
    ShardSet,
    StreamSeededCollator,
    fixed_validation_set,
    language_model_collator,
)
from twinarch.pretrain.models import model_class
from twinarch.pretrain.run import LOSS_TYPES, use_objective
from twinarch.training.run import use_threads

log = logging.getLogger(__name__)

OBJECTIVES = ("mlm", "clm")


def load_for_objective(model_dir: str | Path, family: str, objective: str, attn_implementation: str) -> PreTrainedModel:
    """A saved model of `family` with the attention and loss of `objective`, in eval mode."""
    model = model_class(family).from_pretrained(str(model_dir), attn_implementation=attn_implementation)
    return use_objective(model, objective).eval()


def scored_targets(labels: torch.Tensor, objective: str) -> int:
    """How many labels a batch's loss averages over: a causal loss never scores position 0."""
    return int((labels[..., 1:] if objective == "clm" else labels).ne(-100).sum())


@torch.no_grad()
def mean_loss(
    model: PreTrainedModel, examples: FixedLabelDataset, objective: str, batch_size: int
) -> tuple[float, int]:
    """The model's own loss (set up for `objective`) over every scored token of `examples`, and how
    many tokens it scored."""
    if model.loss_type != LOSS_TYPES[objective]:
        raise ValueError(f"the model computes {model.loss_type} losses, not {objective}'s; load it for {objective}")
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = default_data_collator([examples[i] for i in range(start, min(len(examples), start + batch_size))])
        targets = scored_targets(batch["labels"], objective)
        if targets:
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            total += float(loss) * targets
            count += targets
    return (total / count if count else float("nan")), count


def validation_examples(
    blocks: PackedBlocks,
    tokenizer: Any,
    objective: str,
    settings: LossSettings,
    masking: Mapping[str, float],
    seed: int,
) -> FixedLabelDataset:
    """The first `max_blocks` blocks labelled for `objective`, masked for MLM once with the seed
    exactly as pretraining masks its validation set: a pretraining run of the same seed and masking
    scores the same positions (its `eval_loss` averages batch means, this the scored tokens)."""
    collator = language_model_collator(
        tokenizer, objective, settings.mlm_probability, masking["mask_replace_prob"], masking["random_replace_prob"]
    )
    return fixed_validation_set(blocks, StreamSeededCollator(collator, seed), settings.max_blocks)


def validation_losses(
    model_dir: str | Path,
    family: str,
    shards_manifest: str | Path,
    settings: LossSettings,
    masking: Mapping[str, float],
    seed: int,
    device: Mapping[str, Any],
    threads: int | None = None,
) -> dict[str, Any]:
    """MLM and CLM validation losses of one model on one stage's validation blocks (see the module
    docstring); refuses shards another tokenizer wrote."""
    device_settings = resolve_device_settings(device)
    use_threads(device_settings, threads)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    shards = ShardSet.load(shards_manifest)
    shards.check(
        seq_len=shards.seq_len,
        tokenizer_hash=tokenizer_hash(model_dir),
        vocab_size=len(tokenizer),
        model_vocab_size=AutoConfig.from_pretrained(str(model_dir)).vocab_size,
    )
    blocks = PackedBlocks([shards.validation.path])
    result: dict[str, Any] = {"blocks": min(len(blocks), settings.max_blocks), "seq_len": shards.seq_len}
    for objective in OBJECTIVES:
        model = load_for_objective(model_dir, family, objective, device_settings.attn_implementation)
        model.to(device_settings.device)
        examples = validation_examples(blocks, tokenizer, objective, settings, masking, seed)
        loss, tokens = mean_loss(model, examples, objective, settings.batch_size)
        result[f"{objective}_loss"], result[f"{objective}_tokens"] = loss, tokens
        log.info("%s: %s loss %.4f over %d tokens", model_dir, objective.upper(), loss, tokens)
    return result


def write_validation_losses(
    model_dir: str | Path,
    arm: Mapping[str, Any],
    seed: int,
    shards_manifest: str | Path,
    settings: Mapping[str, Any],
    masking: Mapping[str, float],
    data_seed: int,
    device: Mapping[str, Any],
    out_path: str | Path,
    threads: int | None = None,
) -> dict[str, Any]:
    """results/ladder/losses/<arm>/seed_<seed>.json: both losses of the arm's pretrained model (the
    one its embedding training starts from), with what they were measured on."""
    losses = validation_losses(
        model_dir,
        str(arm["family"]),
        shards_manifest,
        LossSettings.from_dict(settings),
        masking,
        data_seed,
        device,
        threads,
    )
    fragment = {"arm": dict(arm), "settings": dict(settings), "masking": dict(masking), "seed": data_seed}
    record = {
        "arm": arm["name"],
        "seed": int(seed),
        "model": str(model_dir),
        "shards": str(shards_manifest),
        **losses,
        "mlm_probability": settings["mlm_probability"],
        "provenance": provenance(fragment),
    }
    atomic_write_json(out_path, record)
    return record
