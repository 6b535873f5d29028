"""Packed token shards: the one token stream every arm pretrains on.

A stage's corpora are streamed, tokenized in batches, and each document is followed by the
tokenizer's `eos_token_id`; the stream is cut into blocks of the stage's `seq_len` and written as a
2-D `.npy` array (`uint16` when the vocabulary fits). Which shard a document goes to, and whether it
is held out for validation, is a hash of (seed, document id): every shard job streams the same
corpora and keeps its own documents, so the K jobs run independently (Snakemake scatter/gather) and
agree without talking to each other, and the validation split is the same in every stage.

Memory stays bounded: one tokenization batch and less than one block are held at a time; blocks go
straight to disk under a header that is rewritten with the final shape (the `.npy` header reserves
room for that; numpy's `GROWTH_AXIS_MAX_DIGITS`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from twinarch.core.io import DataError, atomic_path
from twinarch.core.provenance import provenance
from twinarch.core.splits import heldout_fraction_position
from twinarch.data.config import StagePlan
from twinarch.data.sources import Document, TextSource, check_sources, iter_documents

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0


@dataclass
class ShardStats:
    path: str
    blocks: int = 0
    tokens: int = 0
    documents: int = 0
    dropped_tokens: int = 0
    sha256: str = ""


def token_dtype(vocab_size: int) -> np.dtype:
    """`uint16` when every id fits, else `uint32` (halves the shards of vocabularies up to 65,536)."""
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.uint32)


def is_validation(doc_id: str, seed: int, fraction: float) -> bool:
    return heldout_fraction_position(f"{seed}:validation:{doc_id}") < fraction


def shard_of(doc_id: str, seed: int, num_shards: int) -> int:
    return int(heldout_fraction_position(f"{seed}:shard:{doc_id}") * num_shards)


def training_documents(
    docs: Iterable[Document], seed: int, fraction: float, index: int, num_shards: int
) -> Iterator[Document]:
    """The documents of shard `index` (0-based): not held out, and hashed to this shard."""
    for doc in docs:
        if not is_validation(doc.id, seed, fraction) and shard_of(doc.id, seed, num_shards) == index:
            yield doc


def validation_documents(docs: Iterable[Document], seed: int, fraction: float, cap: int) -> Iterator[Document]:
    """The held-out documents, the first `cap` of them in stream order (the stream stops there)."""
    held = (doc for doc in docs if is_validation(doc.id, seed, fraction))
    return itertools.islice(held, cap)


def token_batches(docs: Iterable[Document], tokenizer: Any, batch_documents: int) -> Iterator[tuple[np.ndarray, int]]:
    """(token ids of a batch of documents, each followed by eos; number of documents).

    Calls the Rust tokenizer's `encode_batch_fast` directly: it is the fast tokenizer's own batch
    call without the offset mapping that `tokenizer(texts)` computes and we would throw away.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DataError("the tokenizer has no eos_token; shards separate documents with it")
    backend = tokenizer.backend_tokenizer
    docs = iter(docs)
    while batch := list(itertools.islice(docs, batch_documents)):
        encodings = backend.encode_batch_fast([d.text for d in batch], add_special_tokens=False)
        ids: list[int] = []
        for enc in encodings:
            ids.extend(enc.ids)
            ids.append(eos)
        yield np.asarray(ids, dtype=np.int64), len(batch)


class BlockWriter:
    """Appends token ids to a `[blocks, seq_len]` `.npy` file, holding less than one block back."""

    def __init__(self, fh: Any, seq_len: int, dtype: np.dtype) -> None:
        self.fh, self.seq_len, self.dtype = fh, seq_len, dtype
        self.pending = np.empty(0, dtype=dtype)
        self.blocks = 0
        self.header_len = self._write_header(0)

    def _write_header(self, blocks: int) -> int:
        self.fh.seek(0)
        header = {
            "descr": npy_format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (blocks, self.seq_len),
        }
        npy_format.write_array_header_1_0(self.fh, header)
        return self.fh.tell()

    def add(self, ids: np.ndarray) -> None:
        stream = np.concatenate([self.pending, ids.astype(self.dtype, copy=False)])
        full = len(stream) // self.seq_len * self.seq_len
        stream[:full].tofile(self.fh)
        self.blocks += full // self.seq_len
        self.pending = stream[full:]

    def close(self) -> int:
        """Rewrite the header with the final shape; returns the tokens dropped (the last partial block)."""
        end = self.fh.tell()
        if self._write_header(self.blocks) != self.header_len:
            raise RuntimeError("npy header changed length; cannot finalise the shard in place")
        self.fh.seek(end)
        return len(self.pending)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_blocks(
    docs: Iterable[Document], tokenizer: Any, out_path: str | Path, seq_len: int, batch_documents: int, label: str
) -> ShardStats:
    """Tokenize, pack and write `docs` to `out_path` atomically; log tokens/s as it goes."""
    stats = ShardStats(path=str(out_path))
    dtype = token_dtype(len(tokenizer))
    start = last = time.perf_counter()
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as fh:
            writer = BlockWriter(fh, seq_len, dtype)
            for ids, n_docs in token_batches(docs, tokenizer, batch_documents):
                writer.add(ids)
                stats.documents += n_docs
                stats.tokens += len(ids)
                if time.perf_counter() - last > PROGRESS_EVERY_S:
                    last = time.perf_counter()
                    log.info(
                        "%s: %d documents, %d tokens, %.0f tokens/s",
                        label,
                        stats.documents,
                        stats.tokens,
                        stats.tokens / (last - start),
                    )
            stats.dropped_tokens = writer.close()
            stats.blocks = writer.blocks
        if stats.blocks == 0:
            raise DataError(
                f"{label}: no complete block of {seq_len} tokens ({stats.tokens} tokens from "
                f"{stats.documents} documents); lower shards.num_shards, raise "
                "shards.validation_fraction/validation_max_documents, or add text"
            )
        stats.sha256 = file_sha256(tmp)
    stats.tokens = stats.blocks * seq_len
    elapsed = time.perf_counter() - start
    log.info(
        "%s: %d blocks x %d = %d tokens from %d documents in %.1f s (%.0f tokens/s), %d tail tokens dropped",
        label,
        stats.blocks,
        seq_len,
        stats.tokens,
        stats.documents,
        elapsed,
        (stats.tokens + stats.dropped_tokens) / max(elapsed, 1e-9),
        stats.dropped_tokens,
    )
    return stats


def load_tokenizer(tokenizer_dir: str | Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))


def parse_scatter_item(item: str) -> tuple[int, int]:
    """Snakemake's scatter item `i-of-K` (1-based) as (0-based index, K)."""
    try:
        i, k = item.split("-of-")
        index, count = int(i) - 1, int(k)
    except ValueError:
        raise ValueError(f"not a scatter item of the form 'i-of-K': {item!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"scatter item {item!r} out of range")
    return index, count


def write_training_shard(
    plan: StagePlan, sources: list[TextSource], tokenizer_dir: str | Path, scatter_item: str, out_path: str | Path
) -> ShardStats:
    """Shard `i-of-K` of a stage: its share of the training documents, packed into blocks."""
    index, count = parse_scatter_item(scatter_item)
    tokenizer = load_tokenizer(tokenizer_dir)
    check_sources(sources)
    docs = training_documents(iter_documents(sources), plan.seed, plan.shards.validation_fraction, index, count)
    label = f"stage {plan.stage} shard {scatter_item}"
    return write_blocks(docs, tokenizer, out_path, plan.seq_len, plan.shards.batch_documents, label)


def write_validation_shard(
    plan: StagePlan, sources: list[TextSource], tokenizer_dir: str | Path, out_path: str | Path
) -> ShardStats:
    """The stage's held-out documents (no training shard has any of them), capped."""
    tokenizer = load_tokenizer(tokenizer_dir)
    check_sources(sources)
    cfg = plan.shards
    docs = validation_documents(
        iter_documents(sources), plan.seed, cfg.validation_fraction, cfg.validation_max_documents
    )
    label = f"stage {plan.stage} validation"
    return write_blocks(docs, tokenizer, out_path, plan.seq_len, cfg.batch_documents, label)


def build_manifest(
    plan: StagePlan,
    tokenizer_manifest: Mapping[str, Any],
    shards: list[Mapping[str, Any]],
    validation: Mapping[str, Any],
) -> dict[str, Any]:
    """The stage's `manifest.json` (format in docs/architecture.md) from the per-shard stats."""
    shard_keys = ("path", "blocks", "tokens", "documents", "sha256")
    vocab_size = int(tokenizer_manifest["vocab_size"])
    return {
        "stage": plan.stage,
        "seq_len": plan.seq_len,
        "dtype": token_dtype(vocab_size).name,
        "vocab_size": vocab_size,
        "tokenizer_hash": tokenizer_manifest["tokenizer_hash"],
        "eos_token_id": tokenizer_manifest["special_token_ids"]["eos_token_id"],
        "corpora": list(plan.corpora),
        "num_shards": len(shards),
        "shards": [{k: s[k] for k in shard_keys} for s in shards],
        "validation": {k: validation[k] for k in shard_keys},
        "total_blocks": sum(s["blocks"] for s in shards),
        "total_tokens": sum(s["tokens"] for s in shards),
        "provenance": provenance({"plan": plan.as_dict(), "tokenizer_hash": tokenizer_manifest["tokenizer_hash"]}),
    }


def read_shard(path: str | Path) -> np.ndarray:
    """A shard as a read-only memory map (pretraining reads blocks without loading the file)."""
    return np.load(path, mmap_mode="r")
