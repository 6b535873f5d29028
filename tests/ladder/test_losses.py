"""Validation losses of both objectives: the MLM loss scores only the masked positions, each at its
own position, with bidirectional attention; the CLM loss is the model's own shifted loss, an
encoder's under its causal masks; the loss file says what it measured."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from ladder_setup import SEED, SEQ_LEN, is_bidirectional, is_causal
from transformers import AutoModelForCausalLM, AutoTokenizer

from twinarch.ladder.config import LossSettings
from twinarch.ladder.losses import load_for_objective, mean_loss, validation_examples, write_validation_losses
from twinarch.pretrain.data import PackedBlocks, ShardSet

MASKING = {"mask_replace_prob": 0.8, "random_replace_prob": 0.1}
SETTINGS = LossSettings(mlm_probability=0.15, max_blocks=12, batch_size=5)


def model_dir(arm: str) -> str:
    return f"results/pretrain/{arm}/seed_{SEED}/init/model"


def examples(arm: str, objective: str):
    blocks = PackedBlocks([ShardSet.load("results/shards/s1/manifest.json").validation.path])
    return validation_examples(blocks, AutoTokenizer.from_pretrained(model_dir(arm)), objective, SETTINGS, MASKING, 0)


def stacked(examples) -> dict[str, torch.Tensor]:
    return {k: torch.stack([examples[i][k] for i in range(len(examples))]) for k in examples[0]}


def test_the_mlm_loss_scores_the_masked_positions_only_each_at_its_own_position(root):
    model = load_for_objective(model_dir("decoder"), "llama", "mlm", "sdpa")
    assert is_bidirectional(model)  # a CLM model's MLM loss is taken bidirectionally
    data = examples("decoder", "mlm")
    loss, tokens = mean_loss(model, data, "mlm", SETTINGS.batch_size)

    batch = stacked(data)
    labels = batch["labels"]
    masked = labels != -100
    assert tokens == int(masked.sum()) and 0.1 < tokens / labels.numel() < 0.2
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # No shift: the logit at a masked position is scored against the token that was there.
    reference = F.cross_entropy(logits[masked], labels[masked])
    assert abs(loss - float(reference)) < 1e-4
    shifted = F.cross_entropy(logits[:, :-1][masked[:, 1:]], labels[:, 1:][masked[:, 1:]])
    assert abs(loss - float(shifted)) > 1e-3
    # Scoring the unmasked positions too (against the token they show) would be another loss.
    every = torch.where(masked, labels, batch["input_ids"])
    assert abs(loss - float(F.cross_entropy(logits.flatten(0, 1), every.flatten()))) > 1e-3


def test_the_clm_loss_is_the_models_own_shifted_loss(root):
    data = examples("decoder", "clm")
    batch = stacked(data)
    ids = batch["input_ids"]
    assert len(ids) == SETTINGS.max_blocks and ids.shape[1] == SEQ_LEN
    decoder = load_for_objective(model_dir("decoder"), "llama", "clm", "sdpa")
    loss, tokens = mean_loss(decoder, data, "clm", SETTINGS.batch_size)
    native = AutoModelForCausalLM.from_pretrained(model_dir("decoder")).eval()
    with torch.no_grad():
        own = native(input_ids=ids, labels=ids).loss
    assert tokens == ids.numel() - len(ids) and abs(loss - float(own)) < 1e-4

    # An encoder's CLM loss: its causal masks, its MLM head as the LM head, the logit at i scored
    # against the token at i + 1.
    encoder = load_for_objective(model_dir("encoder"), "modernbert", "clm", "sdpa")
    assert is_causal(encoder)
    loss, _ = mean_loss(encoder, examples("encoder", "clm"), "clm", SETTINGS.batch_size)
    with torch.no_grad():
        logits = encoder(input_ids=ids).logits
    reference = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    assert abs(loss - float(reference)) < 1e-4


def test_the_loss_file_says_what_it_measured(root):
    record = write_validation_losses(
        model_dir("encoder"),
        {"name": "encoder", "family": "modernbert"},
        SEED,
        "results/shards/s1/manifest.json",
        {"shards": "s1", "mlm_probability": 0.15, "max_blocks": 12, "batch_size": 5},
        MASKING,
        0,
        {"dtype": "auto", "attn_implementation": "auto"},
        "results/ladder/encoder/seed_7/losses.json",
    )
    saved = json.loads((root / "results" / "ladder" / "encoder" / "seed_7" / "losses.json").read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(record))
    assert {
        "arm",
        "seed",
        "model",
        "shards",
        "blocks",
        "seq_len",
        "mlm_loss",
        "mlm_tokens",
        "clm_loss",
        "clm_tokens",
    } <= set(saved)
    assert saved["blocks"] == 12 and saved["clm_tokens"] == 12 * (SEQ_LEN - 1)
    assert saved["provenance"]["config_hash"] and saved["mlm_loss"] > 0 and saved["clm_loss"] > 0
