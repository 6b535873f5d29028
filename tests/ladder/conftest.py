"""Fixtures of the ladder tests: a workflow root with one pretraining stage's shards (written by the
data stage's own block writer), the shared tokenizer with its manifest, and each family's model
config and seeded random init (written by the pretrain stage's own functions)."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from ladder_setup import ARMS, LADDER, MODELS, SEED, SEQ_LEN, STAGE, study_config, validated_ladder
from tiny_models import one_torch_thread  # noqa: F401 (autouse)
from transformers import AutoTokenizer

from twinarch.core.io import atomic_write_json, iter_jsonl
from twinarch.data.config import ShardsConfig, StagePlan
from twinarch.data.shards import build_manifest, write_blocks
from twinarch.data.sources import Document
from twinarch.data.tokenizer import tokenizer_hash
from twinarch.pretrain.models import arm_model_config, initialize_model, write_model_config


def passages(shared_data: Path, start: int, stop: int) -> list[Document]:
    rows = iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")
    return [Document(f"jaquad:{i}", row["text"]) for i, row in itertools.islice(enumerate(rows), start, stop)]


@pytest.fixture(scope="session")
def ladder_root(tmp_path_factory, tiny_tokenizer_dir, shared_data) -> Path:
    root = tmp_path_factory.mktemp("ladder_root")
    tok_dir = root / "results" / "tokenizer"
    shutil.copytree(tiny_tokenizer_dir, tok_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    tok_manifest = {
        "vocab_size": len(tokenizer),
        "tokenizer_hash": tokenizer_hash(tok_dir),
        "special_token_ids": {"eos_token_id": tokenizer.eos_token_id},
    }
    (tok_dir / "tokenizer_manifest.json").write_text(json.dumps(tok_manifest), encoding="utf-8")
    shard_dir = Path("results") / "shards" / STAGE
    (root / shard_dir).mkdir(parents=True)
    train = write_blocks(
        passages(shared_data, 400, 600), tokenizer, root / shard_dir / "part_1-of-1.npy", SEQ_LEN, 100, "t"
    )
    val = write_blocks(
        passages(shared_data, 700, 740), tokenizer, root / shard_dir / "validation.npy", SEQ_LEN, 100, "v"
    )
    for stats in (train, val):
        stats.path = str(Path(stats.path).relative_to(root))
    plan = StagePlan(stage=STAGE, seq_len=SEQ_LEN, seed=0, corpora={}, shards=ShardsConfig(num_shards=1))
    atomic_write_json(
        root / shard_dir / "manifest.json", build_manifest(plan, tok_manifest, [asdict(train)], asdict(val))
    )
    for arm in ARMS:
        config_file = root / "results" / "models" / arm["name"] / "config.json"
        write_model_config(arm_model_config(arm, MODELS, tok_dir), config_file)
        init = root / "results" / "pretrain" / arm["name"] / f"seed_{SEED}" / "init" / "model"
        initialize_model(config_file.parent, tok_dir, arm["family"], SEED, init)
    return root


@pytest.fixture()
def root(ladder_root, tmp_path, monkeypatch) -> Path:
    """A fresh copy per test, and the working directory (manifests hold root-relative paths)."""
    copy = tmp_path / "root"
    shutil.copytree(ladder_root, copy)
    monkeypatch.chdir(copy)
    return copy


@pytest.fixture(scope="session")
def ladder_config(tmp_path_factory) -> dict:
    return study_config(validated_ladder(LADDER, tmp_path_factory.mktemp("schema")))
