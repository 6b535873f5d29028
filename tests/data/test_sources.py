"""Text sources: one interface over local files, the hub and the demo's generated text, with
stable document ids and bad input stopped early with a message naming the file, field or dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinarch.core.config import ConfigError
from twinarch.core.io import DataError
from twinarch.core.splits import Holdout
from twinarch.data.sources import (
    build_source,
    check_sources,
    corpus_input_files,
    interleave_documents,
    resolved_corpus_specs,
)
from twinarch.data.synthetic import SYNTHETIC_PRETRAIN


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [{"id": f"a{i}", "title": f"見出し{i}", "body": f"本文{i}です。"} for i in range(40)]


def test_local_jsonl_joins_fields_and_keeps_stable_ids(tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", ROWS)
    source = build_source(
        "news", {"type": "local", "path": str(path), "text_field": ["title", "body"], "id_field": "id"}
    )
    docs = list(source.documents())
    assert len(docs) == 40
    assert docs[3].id == "news:a3"
    assert docs[3].text == "見出し3\n本文3です。"
    capped = build_source("news", {"type": "local", "path": str(path), "max_documents": 5, "text_field": "body"})
    assert [d.id for d in capped.documents()] == [f"news:{i}" for i in range(1, 6)]


def test_local_holdout_keeps_the_complement_of_the_evaluation_side(tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", ROWS)
    spec = {"type": "local", "path": str(path), "text_field": "body", "id_field": "id"}
    train = {
        d.id
        for d in build_source("n", {**spec, "holdout": {"field": "id", "fraction": 0.3, "keep": "train"}}).documents()
    }
    held = {
        d.id
        for d in build_source("n", {**spec, "holdout": {"field": "id", "fraction": 0.3, "keep": "heldout"}}).documents()
    }
    assert train and held and not train & held
    assert train | held == {f"n:a{i}" for i in range(40)}
    # the same rows an evaluation task would hold out with twinarch.core.splits
    assert held == {f"n:{r['id']}" for r in ROWS if Holdout("id", 0.3, "heldout").keeps(r)}


def test_parquet_and_text_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"pid": ["x", "y"], "text": ["一つ目", "二つ目"]}), tmp_path / "p.parquet")
    parquet = build_source("p", {"type": "local", "path": str(tmp_path / "p.parquet"), "id_field": "pid"})
    assert [(d.id, d.text) for d in parquet.documents()] == [("p:x", "一つ目"), ("p:y", "二つ目")]
    (tmp_path / "t.txt").write_text("一行目\n\n二行目\n", encoding="utf-8")
    text = build_source("t", {"type": "local", "path": str(tmp_path / "t.txt")})
    assert [d.text for d in text.documents()] == ["一行目", "二行目"]


def test_input_files_per_source_type(tmp_path):
    specs = {
        "a": {"type": "local", "path": str(tmp_path / "a.jsonl")},
        "demo": {"type": "synthetic"},
        "web": {"type": "hf", "dataset": "org/web"},
    }
    assert corpus_input_files(specs) == [str(tmp_path / "a.jsonl"), SYNTHETIC_PRETRAIN]


def test_resolved_specs_expand_data_root_and_reject_unknown_names():
    config = {"data_root": "/data", "corpora": {"a": {"type": "local", "path": "{data_root}/a.jsonl"}}}
    assert resolved_corpus_specs(config, ["a"])["a"]["path"] == "/data/a.jsonl"
    with pytest.raises(ConfigError, match="unknown corpus 'b'"):
        resolved_corpus_specs(config, ["b"])


def test_interleave_takes_one_document_from_each_corpus_in_turn(tmp_path):
    a = build_source("a", {"type": "local", "path": str(write_jsonl(tmp_path / "a.jsonl", [{"text": "a"}] * 3))})
    b = build_source("b", {"type": "local", "path": str(write_jsonl(tmp_path / "b.jsonl", [{"text": "b"}]))})
    assert [d.id for d in interleave_documents([a, b])] == ["a:1", "b:1", "a:2", "a:3"]


def test_missing_file_is_named(tmp_path):
    source = build_source("gone", {"type": "local", "path": str(tmp_path / "gone.jsonl")})
    with pytest.raises(DataError, match=r"gone\.jsonl: file not found"):
        check_sources([source])


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed JSON line"):
        list(build_source("bad", {"type": "local", "path": str(path)}).documents())


def test_missing_text_field_names_the_fields_found(tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", ROWS)
    with pytest.raises(DataError, match=r"no text field \['text'\]; fields found: \['body', 'id', 'title'\]"):
        check_sources([build_source("news", {"type": "local", "path": str(path)})])


def test_empty_corpus_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "empty.jsonl", [{"text": ""}, {"text": "  "}])
    with pytest.raises(DataError, match="corpus 'empty' .* has no document with text"):
        check_sources([build_source("empty", {"type": "local", "path": str(path)})])


def test_hf_source_offline_says_how_to_use_local_files():
    source = build_source("web", {"type": "hf", "dataset": "org/web-ja", "name": "sample", "text_field": "text"})
    with pytest.raises(DataError) as err:
        check_sources([source])
    message = str(err.value)
    assert "'org/web-ja'" in message and "HF_HUB_OFFLINE" in message
    assert "corpora.web: {type: local, path:" in message
