"""Token shards: they decode back to the source token stream, the same seed gives the same bytes,
validation and training share no document, and bad input stops with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from twinarch.core.io import DataError
from twinarch.data.config import ShardsConfig, StagePlan
from twinarch.data.shards import (
    build_manifest,
    is_validation,
    parse_scatter_item,
    read_shard,
    shard_of,
    token_dtype,
    write_training_shard,
    write_validation_shard,
)
from twinarch.data.sources import build_sources, iter_documents

SEQ_LEN = 64


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Path:
    """300 real Wikipedia paragraphs (JaQuAD dev), written where the test can also break them."""
    rows = []
    with open(shared_data / "jaquad" / "jaquad_dev_passages.jsonl", encoding="utf-8") as fh:
        for line, _ in zip(fh, range(300)):
            rows.append(line)
    path = tmp_path_factory.mktemp("corpus") / "passages.jsonl"
    path.write_text("".join(rows), encoding="utf-8")
    return path


def make_plan(corpus: Path, seed: int = 0, **shards) -> StagePlan:
    cfg = {
        "num_shards": 3,
        "validation_fraction": 0.1,
        "validation_max_documents": 1000,
        "batch_documents": 64,
        **shards,
    }
    return StagePlan(
        stage="s1",
        seq_len=SEQ_LEN,
        seed=seed,
        corpora={"wiki": {"type": "local", "path": str(corpus), "text_field": ["title", "text"], "id_field": "pid"}},
        shards=ShardsConfig(**cfg),
    )


def write_stage(plan: StagePlan, tokenizer_dir: Path, out: Path) -> tuple[list[dict], dict]:
    sources = build_sources(plan.corpora)
    k = plan.shards.num_shards
    shards = [
        vars(write_training_shard(plan, sources, tokenizer_dir, f"{i}-of-{k}", out / f"part_{i}-of-{k}.npy"))
        for i in range(1, k + 1)
    ]
    validation = vars(write_validation_shard(plan, sources, tokenizer_dir, out / "validation.npy"))
    return shards, validation


@pytest.fixture(scope="module")
def stage(tmp_path_factory, corpus, tiny_tokenizer_dir):
    plan = make_plan(corpus)
    out = tmp_path_factory.mktemp("shards")
    shards, validation = write_stage(plan, tiny_tokenizer_dir, out)
    return plan, out, shards, validation


def test_shards_decode_back_to_the_source_token_stream(stage, tiny_tokenizer_dir):
    plan, out, shards, _ = stage
    tok = PreTrainedTokenizerFast.from_pretrained(str(tiny_tokenizer_dir))
    docs = list(iter_documents(build_sources(plan.corpora)))
    for index, stats in enumerate(shards):
        mine = [d for d in docs if not is_validation(d.id, 0, 0.1) and shard_of(d.id, 0, 3) == index]
        # the reference stream uses the tokenizer's ordinary call, not the shard writer's batch path
        expected = [t for d in mine for t in [*tok(d.text, add_special_tokens=False)["input_ids"], tok.eos_token_id]]
        array = read_shard(stats["path"])
        assert array.dtype == np.uint16 and array.shape == (stats["blocks"], SEQ_LEN)
        assert stats["documents"] == len(mine)
        assert len(expected) - array.size == stats["dropped_tokens"] < SEQ_LEN
        assert np.array_equal(array.reshape(-1), np.asarray(expected[: array.size]))
        first = array.reshape(-1)[: array.reshape(-1).tolist().index(tok.eos_token_id)]
        assert tok.decode(first.tolist()) == mine[0].text


def test_validation_and_training_share_no_document(stage):
    plan, _, shards, validation = stage
    docs = list(iter_documents(build_sources(plan.corpora)))
    held = [d for d in docs if is_validation(d.id, plan.seed, 0.1)]
    assert 0 < len(held) < len(docs) * 0.25
    assert validation["documents"] == len(held)
    assert sum(s["documents"] for s in shards) + len(held) == len(docs)
    held_texts = {d.text for d in held}
    assert not held_texts & {d.text for d in docs if not is_validation(d.id, plan.seed, 0.1)}


def test_same_seed_gives_byte_identical_shards(stage, corpus, tiny_tokenizer_dir, tmp_path):
    plan, out, shards, validation = stage
    again, again_validation = write_stage(plan, tiny_tokenizer_dir, tmp_path / "again")
    for a, b in zip(shards + [validation], again + [again_validation]):
        assert Path(a["path"]).read_bytes() == Path(b["path"]).read_bytes()
        assert a["sha256"] == b["sha256"]
    other = write_training_shard(
        make_plan(corpus, seed=1), build_sources(plan.corpora), tiny_tokenizer_dir, "1-of-3", tmp_path / "other.npy"
    )
    assert other.sha256 != shards[0]["sha256"]


def test_validation_cap_stops_the_split(corpus, tiny_tokenizer_dir, tmp_path):
    plan = make_plan(corpus, validation_max_documents=5)
    stats = write_validation_shard(plan, build_sources(plan.corpora), tiny_tokenizer_dir, tmp_path / "v.npy")
    assert stats.documents == 5


def test_manifest_follows_the_contract(stage, tiny_tokenizer_dir):
    from twinarch.data.tokenizer import special_token_ids, tokenizer_hash

    plan, _, shards, validation = stage
    tok = PreTrainedTokenizerFast.from_pretrained(str(tiny_tokenizer_dir))
    tokenizer_manifest = {
        "vocab_size": len(tok),
        "tokenizer_hash": tokenizer_hash(tiny_tokenizer_dir),
        "special_token_ids": special_token_ids(tok),
    }
    manifest = build_manifest(plan, tokenizer_manifest, shards, validation)
    assert {
        "stage",
        "seq_len",
        "dtype",
        "vocab_size",
        "tokenizer_hash",
        "num_shards",
        "shards",
        "validation",
        "total_blocks",
        "total_tokens",
        "provenance",
    } <= set(manifest)
    assert manifest["dtype"] == "uint16" and manifest["num_shards"] == 3
    assert set(manifest["shards"][0]) == {"path", "blocks", "tokens", "documents", "sha256"}
    assert manifest["total_tokens"] == sum(s["blocks"] for s in shards) * SEQ_LEN
    json.dumps(manifest)


def test_too_little_text_for_a_block_is_rejected_and_leaves_nothing(corpus, tiny_tokenizer_dir, tmp_path):
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text(
        json.dumps({"pid": "x", "title": "短い", "text": "文。"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plan = make_plan(tiny, validation_fraction=0.0)
    with pytest.raises(DataError, match=r"stage s1 shard 1-of-1: no complete block of 64 tokens"):
        write_training_shard(plan, build_sources(plan.corpora), tiny_tokenizer_dir, "1-of-1", tmp_path / "p.npy")
    assert not list(tmp_path.glob("*.npy*"))


def test_empty_corpus_and_malformed_line_fail_before_writing(tiny_tokenizer_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"pid": "a", "title": "", "text": ""}\n', encoding="utf-8")
    plan = make_plan(empty)
    with pytest.raises(DataError, match="corpus 'wiki' .* has no document with text"):
        write_training_shard(plan, build_sources(plan.corpora), tiny_tokenizer_dir, "1-of-3", tmp_path / "p.npy")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"pid": "a", "title": "t", "text": "本文"}\n{"pid": \n', encoding="utf-8")
    plan = make_plan(broken)
    with pytest.raises(DataError, match=r"broken\.jsonl:2: malformed JSON line"):
        write_validation_shard(plan, build_sources(plan.corpora), tiny_tokenizer_dir, tmp_path / "v.npy")
    assert not list(tmp_path.glob("*.npy*"))


def test_dtype_and_scatter_items():
    assert token_dtype(65536) == np.uint16 and token_dtype(102400) == np.uint32
    assert parse_scatter_item("3-of-4") == (2, 4)
    with pytest.raises(ValueError, match="i-of-K"):
        parse_scatter_item("3of4")
