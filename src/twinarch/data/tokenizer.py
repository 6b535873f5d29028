"""The one tokenizer every arm shares: trained on the pretraining corpus, or loaded from a hub id
or local directory. It always carries pad, unk, bos, eos, cls, sep and mask, so both objectives
(MLM for the encoder, CLM for the decoder) work with the same ids."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from twinarch.core import hub
from twinarch.core.io import DataError, atomic_dir, read_json
from twinarch.core.provenance import provenance
from twinarch.data.config import TokenizerConfig
from twinarch.data.sources import Document, TextSource, check_sources, interleave_documents

log = logging.getLogger(__name__)

MANIFEST_NAME = "tokenizer_manifest.json"

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


def capped_texts(documents: Iterable[Document], max_chars: int) -> Iterator[str]:
    """Document texts until `max_chars` characters (the last one cut), logging progress."""
    budget = max_chars
    for doc in documents:
        if budget <= 0:
            return
        text = doc.text[:budget]
        budget -= len(text)
        yield text
    log.info("tokenizer corpus: %d characters (cap %d)", max_chars - budget, max_chars)


def load_pretrained_tokenizer(name_or_path: str) -> PreTrainedTokenizerFast:
    """A hub id (read from the hub mirror when it holds a copy) or local directory, as a fast
    tokenizer (the shards need its batch encoder)."""
    from huggingface_hub import is_offline_mode
    from transformers import AutoTokenizer

    source = hub.resolve(name_or_path)
    if not Path(source).is_dir() and is_offline_mode():
        raise DataError(
            f"config key 'tokenizer.pretrained': '{name_or_path}' is not a local directory and "
            "HF_HUB_OFFLINE is set, so it cannot come from the hub. Copy it where the hub is reachable "
            f"into the folder config key 'hub_mirror' names (`hf download {name_or_path} --local-dir "
            f"<hub_mirror>/{name_or_path}`), or set tokenizer.pretrained to a local directory."
        )
    try:
        tok = AutoTokenizer.from_pretrained(source)
    except OSError as err:
        raise DataError(f"config key 'tokenizer.pretrained': cannot load '{name_or_path}': {err}") from err
    if not tok.is_fast:
        raise DataError(f"config key 'tokenizer.pretrained': '{name_or_path}' has no fast (Rust) tokenizer")
    return tok


def add_missing_special_tokens(tok: PreTrainedTokenizerFast) -> dict[str, str]:
    """Give the tokenizer every special token both objectives need; returns the ones added."""
    missing = {attr: token for attr, token in SPECIAL_TOKENS.items() if getattr(tok, attr) is None}
    if missing:
        tok.add_special_tokens(missing)
    return missing


def special_token_ids(tok: PreTrainedTokenizerBase) -> dict[str, int | None]:
    """`{pad_token_id: 0, ...}`: keyword names that model configs accept as they are (None where
    the tokenizer lacks that token)."""
    ids = {}
    for attr in SPECIAL_TOKENS:
        token = getattr(tok, attr)
        ids[f"{attr}_id"] = None if token is None else tok.convert_tokens_to_ids(token)
    return ids


def build_tokenizer(cfg: TokenizerConfig, sources: list[TextSource], out_dir: str | Path) -> dict[str, Any]:
    """Train (on the interleaved corpora, up to `max_chars`) or load the shared tokenizer, complete
    its special tokens, and write it with `tokenizer_manifest.json` into `out_dir` atomically."""
    with atomic_dir(out_dir) as tmp:
        if cfg.source == "train":
            check_sources(sources)
            texts = capped_texts(interleave_documents(sources), cfg.max_chars)
            train_tokenizer(texts, tmp, kind=cfg.kind, vocab_size=cfg.vocab_size)
            origin: dict[str, Any] = {
                "trained": cfg.kind,
                "corpora": [s.name for s in sources],
                "max_chars": cfg.max_chars,
            }
            added: dict[str, str] = {}
        else:
            if not cfg.pretrained:
                raise DataError("config key 'tokenizer.pretrained': required when tokenizer.source is 'pretrained'")
            tok = load_pretrained_tokenizer(cfg.pretrained)
            added = add_missing_special_tokens(tok)
            tok.save_pretrained(tmp)
            origin = {"pretrained": cfg.pretrained}
        tok = PreTrainedTokenizerFast.from_pretrained(str(tmp))
        manifest = {
            "tokenizer_hash": tokenizer_hash(tmp),
            "vocab_size": len(tok),
            "special_tokens": {attr: getattr(tok, attr) for attr in SPECIAL_TOKENS},
            "special_token_ids": special_token_ids(tok),
            "added_special_tokens": added,
            "source": origin,
            "provenance": provenance({"tokenizer": cfg.__dict__}),
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log.info("tokenizer %s: vocab %d, hash %s", out_dir, manifest["vocab_size"], manifest["tokenizer_hash"])
    return manifest


def read_tokenizer_manifest(tokenizer_dir: str | Path) -> dict[str, Any]:
    return read_json(Path(tokenizer_dir) / MANIFEST_NAME)
