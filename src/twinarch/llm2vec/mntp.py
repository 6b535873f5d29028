"""Masked next-token prediction (MNTP), LLM2Vec's second step, from library parts.

MNTP masks tokens as BERT does and predicts the token masked at position i from the hidden state
at i-1 of the now bidirectional decoder, so the pretrained LM head keeps its job. No loss is written
here: the causal LM head's own loss (transformers' ForCausalLMLoss) already shifts the labels, and
the masking collator's labels are -100 everywhere but at masked positions, so that loss is MNTP's
(tests/llm2vec/test_mntp.py checks it against a reference computed by hand). The Trainer counts the
scored labels over `labels[..., 1:]` for the same reason, so gradient accumulation weighs them right.

Hand-written, because no library does them: windows cut from the pretraining shards' packed blocks,
a collator that never masks position 0 (no hidden state precedes it, so masking it would corrupt the
input without scoring anything; LLM2Vec masks it and drops its label), the choice of mask token,
and the shifted accuracy of the evaluation.
"""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedModel, PreTrainedTokenizerBase
from transformers.trainer_utils import EvalPrediction

from twinarch.core.io import DataError
from twinarch.embed.model import attends_to_later_tokens
from twinarch.llm2vec.config import BLANK_MASK_TOKEN, MntpStep
from twinarch.pretrain.data import PackedBlocks, StreamSeededCollator
from twinarch.pretrain.run import masked_token_accuracy

log = logging.getLogger(__name__)


class ShardWindows(torch.utils.data.Dataset):
    """Windows of `window` tokens cut from packed blocks (each block gives `seq_len // window` of
    them, the remainder is left out), served in `order` as `{"input_ids", "stream_index"}` like
    `PackedBlocks`, so the stream-seeded masking applies unchanged."""

    def __init__(self, blocks: PackedBlocks, window: int, order: np.ndarray | None = None) -> None:
        seq_len = int(blocks.arrays[0].shape[1])
        if window > seq_len:
            raise DataError(f"MNTP windows of {window} tokens do not fit in the shards' blocks of {seq_len}")
        self.blocks = blocks
        self.window = window
        self.per_block = seq_len // window
        self.order = np.arange(self.available) if order is None else np.asarray(order)

    @property
    def available(self) -> int:
        """How many distinct windows the blocks hold."""
        return len(self.blocks) * self.per_block

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, Any]:
        block, part = divmod(int(self.order[index]), self.per_block)
        ids = self.blocks[block]["input_ids"][part * self.window : (part + 1) * self.window]
        return {"input_ids": ids, "stream_index": index}


class NextTokenMaskingCollator(DataCollatorForLanguageModeling):
    """The library's masking (`mlm_probability`, `mask_replace_prob`, `random_replace_prob`) with
    position 0 and the special tokens never masked."""

    def torch_mask_tokens(
        self, inputs: Any, special_tokens_mask: Any | None = None, offset_mapping: Any | None = None
    ) -> tuple[Any, Any]:
        if special_tokens_mask is None:
            special_tokens_mask = torch.isin(inputs, torch.tensor(self.tokenizer.all_special_ids))
        keep = special_tokens_mask.bool().clone()
        keep[:, 0] = True
        return super().torch_mask_tokens(inputs, special_tokens_mask=keep, offset_mapping=offset_mapping)


def masking_tokenizer(tokenizer: PreTrainedTokenizerBase, mask_token: str) -> PreTrainedTokenizerBase:
    """A copy of the tokenizer whose mask token is the one MNTP puts in: LLM2Vec's "_" (`blank`),
    the eos token (`eos`) or the tokenizer's own mask token (`mask`). The copy feeds the collator
    only; the saved model keeps the arm's tokenizer unchanged."""
    masking = copy.deepcopy(tokenizer)
    if mask_token == "blank":
        masking.mask_token = BLANK_MASK_TOKEN
    elif mask_token == "eos":
        masking.mask_token = tokenizer.eos_token
    elif tokenizer.mask_token is None:
        raise DataError(
            f"mask_token 'mask': the tokenizer of {tokenizer.name_or_path} has no mask token; choose 'blank' or 'eos'"
        )
    token_id = masking.convert_tokens_to_ids(masking.mask_token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise DataError(
            f"mask_token '{mask_token}': {masking.mask_token!r} is not a token of the tokenizer of "
            f"{tokenizer.name_or_path}; choose another mask_token"
        )
    log.info("MNTP masks with %r (id %d)", masking.mask_token, token_id)
    return masking


def mntp_collator(tokenizer: PreTrainedTokenizerBase, step: MntpStep, seed: int) -> StreamSeededCollator:
    """Masks that depend on the data only (the stream position seeds them), so a resumed run masks
    exactly as an uninterrupted one."""
    masking = NextTokenMaskingCollator(
        masking_tokenizer(tokenizer, step.mask_token),
        mlm=True,
        mlm_probability=step.mlm_probability,
        mask_replace_prob=step.mask_replace_prob,
        random_replace_prob=step.random_replace_prob,
    )
    return StreamSeededCollator(masking, seed)


def next_token_accuracy(pred: EvalPrediction) -> dict[str, float]:
    """Masked-token accuracy with the causal shift: the prediction at i-1 is for the label at i."""
    predictions, labels = np.asarray(pred.predictions), np.asarray(pred.label_ids)
    return masked_token_accuracy(EvalPrediction(predictions=predictions[:, :-1], label_ids=labels[:, 1:]))


def make_bidirectional(model: PreTrainedModel) -> PreTrainedModel:
    """Switch a causal LM's attention to bidirectional (saved with its config) and probe that this
    transformers version honours the switch, before any step is trained the wrong way."""
    model.config.is_causal = False
    # attends_to_later_tokens probes the base network of a SentenceTransformer's first module.
    if not attends_to_later_tokens([SimpleNamespace(auto_model=model.get_decoder())]):
        raise RuntimeError(
            f"{type(model).__name__} still attends causally with config.is_causal=False; this transformers "
            "version does not honour the switch for this architecture"
        )
    return model
