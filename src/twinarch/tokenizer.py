"""The one tokenizer every arm shares: trained on the pretraining corpus, or loaded from a hub id
or local directory. It always carries pad, unk, bos, eos, cls, sep and mask, so both objectives
(MLM for the encoder, CLM for the decoder) work with the same ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "cls_token": "<cls>",
    "sep_token": "<sep>",
    "mask_token": "<mask>",
}


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, kind: str = "bpe", vocab_size: int = 8000) -> Path:
    """Train a byte-level BPE or a Unigram tokenizer with the `tokenizers` library and save it as a
    Hugging Face tokenizer directory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = list(SPECIAL_TOKENS.values())
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token=SPECIAL_TOKENS["unk_token"], show_progress=False
        )
    else:
        raise ValueError(f"config key 'tokenizer.kind': unknown tokenizer kind '{kind}' (bpe, unigram)")
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS)
    out_dir = Path(out_dir)
    fast.save_pretrained(out_dir)
    return out_dir


def tokenizer_hash(tokenizer_dir: str | Path) -> str:
    """Hash of the vocabulary and special tokens: shards and models must agree on it."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    blob = json.dumps([sorted(tok.get_vocab().items()), tok.special_tokens_map], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
