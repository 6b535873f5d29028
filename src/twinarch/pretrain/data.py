"""The pretraining token stream: packed shards read in one seeded order shared by every arm.

The data stage writes `results/shards/{stage}/` (see docs/architecture.md): 2-D `[blocks, seq_len]`
arrays plus a manifest. Here they are checked against the shared tokenizer before any training,
memory-mapped, and served to the Trainer in an order that depends only on the config's seed and the
shards, never on the arm, so the encoder and the decoder see exactly the same token ids. The Trainer
reads the dataset sequentially; the order is the dataset's, so it is also what a resumed run replays.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase, default_data_collator

from twinarch.core.io import DataError, read_json
from twinarch.data.shards import read_shard

log = logging.getLogger(__name__)

MANIFEST_KEYS = ("stage", "seq_len", "dtype", "vocab_size", "tokenizer_hash", "num_shards", "shards", "validation")


@dataclass(frozen=True)
class ShardFile:
    path: Path
    blocks: int
    sha256: str


@dataclass(frozen=True)
class ShardSet:
    """A checked view of one stage's shard manifest."""

    manifest_path: Path
    seq_len: int
    dtype: str
    vocab_size: int
    tokenizer_hash: str
    train: tuple[ShardFile, ...]
    validation: ShardFile

    @property
    def train_blocks(self) -> int:
        return sum(s.blocks for s in self.train)

    @classmethod
    def load(cls, manifest_path: str | Path, root: str | Path = ".") -> ShardSet:
        """Read a shard manifest; paths in it are relative to the workflow's root (`root`)."""
        manifest_path = Path(manifest_path)
        raw = read_json(manifest_path)
        missing = [k for k in MANIFEST_KEYS if k not in raw]
        if missing:
            raise DataError(f"{manifest_path}: shard manifest lacks keys {missing}")

        def entry(item: Mapping[str, Any], what: str) -> ShardFile:
            try:
                return ShardFile(Path(root) / item["path"], int(item["blocks"]), str(item.get("sha256", "")))
            except (KeyError, TypeError, ValueError) as err:
                raise DataError(f"{manifest_path}: malformed {what} entry {item!r} ({err})") from None

        shards = tuple(entry(s, "shard") for s in raw["shards"])
        if len(shards) != int(raw["num_shards"]):
            raise DataError(f"{manifest_path}: num_shards is {raw['num_shards']} but {len(shards)} shards are listed")
        return cls(
            manifest_path=manifest_path,
            seq_len=int(raw["seq_len"]),
            dtype=str(raw["dtype"]),
            vocab_size=int(raw["vocab_size"]),
            tokenizer_hash=str(raw["tokenizer_hash"]),
            train=shards,
            validation=entry(raw["validation"], "validation"),
        )

    def check(self, *, seq_len: int, tokenizer_hash: str, vocab_size: int, model_vocab_size: int) -> None:
        """Refuse shards that another tokenizer or another stage wrote, or that are truncated, before
        any expensive work; each message names the manifest or the file."""
        where = self.manifest_path
        if self.tokenizer_hash != tokenizer_hash:
            raise DataError(
                f"{where}: shards were tokenized with tokenizer {self.tokenizer_hash}, but the shared "
                f"tokenizer is {tokenizer_hash}; rebuild the shards (snakemake data)"
            )
        if self.vocab_size != vocab_size:
            raise DataError(f"{where}: vocab_size {self.vocab_size} differs from the tokenizer's {vocab_size}")
        if self.vocab_size > model_vocab_size:
            raise DataError(
                f"{where}: token ids go up to {self.vocab_size - 1} but the model has {model_vocab_size} embeddings"
            )
        if self.seq_len != seq_len:
            raise DataError(f"{where}: seq_len {self.seq_len} differs from the stage's seq_len {seq_len}")
        for shard in (*self.train, self.validation):
            array = open_shard(shard.path)
            if array.shape != (shard.blocks, self.seq_len) or str(array.dtype) != self.dtype:
                raise DataError(
                    f"{shard.path}: array {array.dtype}{list(array.shape)} does not match the manifest "
                    f"{where} ({self.dtype}[{shard.blocks}, {self.seq_len}])"
                )


def open_shard(path: Path) -> np.ndarray:
    """A shard as a read-only memory map, or a DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: shard file not found")
    try:
        array = read_shard(path)
    except ValueError as err:
        raise DataError(f"{path}: not a readable .npy array ({err})") from None
    if array.ndim != 2:
        raise DataError(f"{path}: expected a 2-D [blocks, seq_len] array, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class TokenBudget:
    """How many optimizer steps and blocks a stage takes for one arm."""

    tokens: int
    tokens_per_step: int
    steps: int
    blocks: int

    @classmethod
    def plan(cls, token_budget: int, scale: float, seq_len: int, blocks_per_step: int) -> TokenBudget:
        tokens = int(round(token_budget * scale))
        tokens_per_step = seq_len * blocks_per_step
        steps = max(1, math.ceil(tokens / tokens_per_step))
        return cls(tokens, tokens_per_step, steps, steps * blocks_per_step)


def training_order(seed: int, available: int, needed: int, loop_epochs: bool, where: str) -> np.ndarray:
    """Global block indices in training order: a fresh seeded permutation per pass over the shards.

    The order depends on (seed, number of blocks) only, so every arm reads the same blocks in the
    same order, and an arm with a larger budget reads the others' stream as its prefix.
    """
    if available <= 0:
        raise DataError(f"{where}: the shards hold no training blocks")
    if needed > available and not loop_epochs:
        raise DataError(
            f"{where}: the stage needs {needed} blocks but the shards hold {available}; lower the token "
            "budget, add data, or set the stage's loop_epochs: true to repeat the shards"
        )
    passes = math.ceil(needed / available)
    order = np.concatenate([np.random.default_rng([seed, p]).permutation(available) for p in range(passes)])
    return order[:needed]


def token_stream_sha256(order: np.ndarray, shards: ShardSet) -> str:
    """Identifies the exact token stream: the shards' contents (by their manifest hashes) and order."""
    digest = hashlib.sha256()
    for shard in shards.train:
        digest.update(f"{shard.sha256}:{shard.blocks};".encode())
    digest.update(np.ascontiguousarray(order, dtype=np.int64).tobytes())
    return digest.hexdigest()


class PackedBlocks(torch.utils.data.Dataset):
    """Blocks of memory-mapped shards served in a given order, as `{"input_ids", "stream_index"}`
    (the position in the stream seeds the batch's masking, see `StreamSeededCollator`)."""

    def __init__(self, paths: Sequence[Path], order: np.ndarray | None = None) -> None:
        self.arrays = [open_shard(Path(p)) for p in paths]
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        self.order = np.arange(self.offsets[-1]) if order is None else np.asarray(order)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, Any]:
        block = int(self.order[index])
        shard = int(np.searchsorted(self.offsets, block, side="right") - 1)
        row = self.arrays[shard][block - self.offsets[shard]]
        return {"input_ids": torch.from_numpy(row.astype(np.int64)), "stream_index": index}


def language_model_collator(
    tokenizer: PreTrainedTokenizerBase,
    objective: str,
    mlm_probability: float,
    mask_replace_prob: float,
    random_replace_prob: float,
) -> DataCollatorForLanguageModeling:
    """The library's collator: BERT-style 80/10/10 masking for MLM, shifted labels for CLM."""
    if objective == "mlm":
        return DataCollatorForLanguageModeling(
            tokenizer,
            mlm=True,
            mlm_probability=mlm_probability,
            mask_replace_prob=mask_replace_prob,
            random_replace_prob=random_replace_prob,
        )
    return DataCollatorForLanguageModeling(tokenizer, mlm=False)


def stream_seed(seed: int, stream_index: int) -> int:
    return int(np.random.SeedSequence([seed, stream_index]).generate_state(1)[0])


class StreamSeededCollator:
    """Masks each batch with a generator seeded by (seed, the batch's position in the token stream).

    A batch's masks are then a function of the data alone: a resumed run (which skips batches, and
    whose data loader prefetches ahead of the checkpointed RNG state) masks exactly as an
    uninterrupted one, on any number of processes. Examples that already carry labels (the fixed
    validation set) are only stacked: the Trainer has one collator for training and evaluation.
    """

    def __init__(self, lm_collator: DataCollatorForLanguageModeling, seed: int) -> None:
        self.lm_collator = lm_collator
        self.seed = seed

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if "labels" in features[0]:
            return default_data_collator(features)
        generator = torch.Generator().manual_seed(stream_seed(self.seed, int(features[0]["stream_index"])))
        self.lm_collator.generator = generator
        return self.lm_collator([{"input_ids": f["input_ids"]} for f in features])


class FixedLabelDataset(torch.utils.data.Dataset):
    """Examples whose labels are already decided (the validation set masked once, with the seed), so
    every evaluation scores the same masked positions and curves are comparable across steps."""

    def __init__(self, examples: list[dict[str, torch.Tensor]]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.examples[index]


def fixed_validation_set(
    validation: PackedBlocks, collator: StreamSeededCollator, max_blocks: int, batch_size: int = 64
) -> FixedLabelDataset:
    """The first `max_blocks` validation blocks, masked (MLM) or labelled (CLM) once."""
    count = min(len(validation), max_blocks)
    if count == 0:
        raise DataError("the validation shard holds no blocks")
    examples: list[dict[str, torch.Tensor]] = []
    for start in range(0, count, batch_size):
        batch = collator([validation[i] for i in range(start, min(count, start + batch_size))])
        examples += [{k: v[j] for k, v in batch.items()} for j in range(len(batch["input_ids"]))]
    return FixedLabelDataset(examples)
