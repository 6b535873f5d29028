"""Tiny random pretrained-model directories for the embedding-stage tests.

They stand in for the pretraining stage's `results/pretrain/{arm}/{stage}/model`: a ModernBERT MLM
or a Llama CLM checkpoint with the shared tokenizer saved beside it and every special id taken from
that tokenizer (ModernBertConfig's defaults point outside a small vocabulary).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    ModernBertConfig,
    ModernBertForMaskedLM,
    PreTrainedTokenizerFast,
)

from twinarch.core.config import Arm

HIDDEN = 32


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared CPU their spin-waits cost
    seconds per step (import this autouse fixture into a test module to use it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_arm(family: str, name: str | None = None, bidirectional: bool = True, pooling: str = "mean") -> Arm:
    return Arm(
        name=name or family,
        display_name=name or family,
        family=family,
        objective="mlm" if family == "modernbert" else "clm",
        size="test-tiny",
        steps=("stage1",),
        bidirectional=bidirectional,
        pooling=pooling,
    )


def save_tiny_pretrained(family: str, tokenizer_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Write a random-init 2-layer model of `family` with the tokenizer into `out_dir`."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    ids = dict(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    if family == "modernbert":
        config = ModernBertConfig(
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=512,
            cls_token_id=tok.cls_token_id,
            sep_token_id=tok.sep_token_id,
            mask_token_id=tok.mask_token_id,
            **ids,
        )
        model = ModernBertForMaskedLM(config)
    else:
        config = LlamaConfig(
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            **ids,
        )
        model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir
