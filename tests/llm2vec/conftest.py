"""Fixtures of the LLM2Vec tests: a workflow root with one pretraining stage's shards, written by the
data stage's own block writer, and a tiny bidirectional-to-be Llama pretrained on nothing."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from tiny_models import save_tiny_pretrained
from tiny_shards import INIT, SEQ_LEN, STAGE
from transformers import AutoTokenizer

from twinarch.core.io import atomic_write_json, iter_jsonl
from twinarch.data.config import ShardsConfig, StagePlan
from twinarch.data.shards import build_manifest, write_blocks
from twinarch.data.sources import Document
from twinarch.data.tokenizer import tokenizer_hash


def passages(shared_data: Path, start: int, stop: int) -> list[Document]:
    rows = iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")
    return [Document(f"jaquad:{i}", row["text"]) for i, row in itertools.islice(enumerate(rows), start, stop)]


@pytest.fixture(scope="session")
def llm2vec_root(tmp_path_factory, tiny_tokenizer_dir, shared_data) -> Path:
    """results/shards/s1 (one training shard, one validation shard, manifest; blocks of 64 tokens)
    and results/pretrain/decoder/s1/model, as the data and pretrain stages leave them."""
    root = tmp_path_factory.mktemp("llm2vec_root")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    shard_dir = Path("results") / "shards" / STAGE
    (root / shard_dir).mkdir(parents=True)
    train = write_blocks(
        passages(shared_data, 400, 700), tokenizer, root / shard_dir / "part_1-of-1.npy", SEQ_LEN, 100, "t"
    )
    val = write_blocks(
        passages(shared_data, 700, 760), tokenizer, root / shard_dir / "validation.npy", SEQ_LEN, 100, "v"
    )
    for stats in (train, val):
        stats.path = str(Path(stats.path).relative_to(root))
    tok_manifest = {
        "vocab_size": len(tokenizer),
        "tokenizer_hash": tokenizer_hash(tiny_tokenizer_dir),
        "special_token_ids": {"eos_token_id": tokenizer.eos_token_id},
    }
    plan = StagePlan(stage=STAGE, seq_len=SEQ_LEN, seed=0, corpora={}, shards=ShardsConfig(num_shards=1))
    atomic_write_json(
        root / shard_dir / "manifest.json", build_manifest(plan, tok_manifest, [asdict(train)], asdict(val))
    )
    save_tiny_pretrained("llama", tiny_tokenizer_dir, root / INIT)
    return root


@pytest.fixture()
def root(llm2vec_root, tmp_path, monkeypatch) -> Path:
    """A fresh copy per test (outputs and work directories of one test never meet another's),
    and the working directory, since manifests hold paths relative to the workflow root."""
    copy = tmp_path / "root"
    shutil.copytree(llm2vec_root, copy)
    monkeypatch.chdir(copy)
    return copy
