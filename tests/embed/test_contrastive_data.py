"""Sources -> normalized contrastive datasets: columns, drops with reasons, lookups, caps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_from_disk

from twinarch.core.io import DataError
from twinarch.embed.config import EmbedStage
from twinarch.embed.data import prepare_stage_datasets, write_stage_datasets


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def stage(datasets: dict, **kwargs) -> EmbedStage:
    return EmbedStage.from_dict({"name": "wsl", "datasets": datasets, **kwargs})


def test_a_missing_column_names_the_dataset_and_the_columns_found(tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", [{"title": "a", "text": "b"}])
    spec = {"type": "local", "path": path, "columns": {"anchor": "title", "positive": "body"}}
    with pytest.raises(
        DataError, match=r"pairs.jsonl:1: .*'news'.*lacks field\(s\) \['body'\].*found: \['text', 'title'\]"
    ):
        prepare_stage_datasets(stage({"news": spec}), seed=0)


def test_a_row_missing_a_field_further_down_names_its_line(tmp_path):
    """Only the first row used to be checked: a later row without the field became a 'missing_lookup'."""
    path = write_jsonl(tmp_path / "pairs.jsonl", [{"q": "問一", "p": "答一"}, {"q": "問二"}])
    spec = {"type": "local", "path": path, "columns": {"anchor": "q", "positive": "p"}}
    with pytest.raises(DataError, match=r"pairs.jsonl:2: .*'news'.*lacks field\(s\) \['p'\]"):
        prepare_stage_datasets(stage({"news": spec}), seed=0)


def test_rows_are_dropped_with_counted_reasons_and_columns_come_in_loss_order(tmp_path):
    queries = write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {"q": "質問一", "pid": "p1", "negs": ["p2", "p3", "p4"], "score": 5},  # kept
            {"q": "", "pid": "p1", "negs": ["p2", "p3"], "score": 5},  # empty text
            {"q": "質問三", "pid": "p9", "negs": ["p2", "p3"], "score": 5},  # unknown positive pid
            {"q": "質問四", "pid": "p2", "negs": ["p3"], "score": 5},  # one negative, two wanted
            {"q": "質問五", "pid": "p2", "negs": ["p1", "p3"], "score": 1},  # below the score
            {"q": "質問六", "pid": "p3", "negs": ["p1", "p2"], "score": 4.5},  # kept
            {"q": "質問七", "pid": "p3", "negs": ["p4", "p1"], "score": 5},  # a negative is an evaluation text
        ],
    )
    evaluation = write_jsonl(tmp_path / "eval.jsonl", [{"sentence": "本文4"}])
    passages = write_jsonl(tmp_path / "passages.jsonl", [{"pid": f"p{i}", "text": f"本文{i}"} for i in range(1, 5)])
    spec = {
        "type": "local",
        "path": queries,
        "columns": {"anchor": "q", "positive": "pid", "hard_negatives": "negs"},
        "lookup": {"path": passages, "key": "pid", "text": "text", "columns": ["positive", "hard_negatives"]},
        "min_score": {"field": "score", "min": 4},
        "exclude": [{"path": evaluation, "fields": ["sentence"]}],
    }
    datasets, (report,) = prepare_stage_datasets(stage({"qa": spec}, num_hard_negatives=2), seed=0)
    ds = datasets["qa"]
    assert ds.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    assert ds[0] == {"anchor": "質問一", "positive": "本文1", "negative_1": "本文2", "negative_2": "本文3"}
    assert ds[1]["positive"] == "本文3"
    assert report.rows_read == 7 and report.rows_used == 2
    assert report.dropped == {
        "below_min_score": 1,
        "heldout": 0,
        "missing_lookup": 1,
        "empty_text": 1,
        "too_few_negatives": 1,
        "evaluation_text": 1,
    }


def test_split_by_makes_one_dataset_per_value_and_caps_each_reproducibly(tmp_path):
    rows = [{"a": f"問{i}", "p": f"答{i}", "dataset": "qa" if i % 2 else "para", "id": i} for i in range(40)]
    spec = {
        "type": "local",
        "path": write_jsonl(tmp_path / "pairs.jsonl", rows),
        "columns": {"anchor": "a", "positive": "p"},
        "split_by": "dataset",
        "holdout": {"field": "id", "fraction": 0.25, "keep": "train"},
    }
    first, reports = prepare_stage_datasets(stage({"pairs": spec}, max_rows_per_dataset=5), seed=3)
    again, _ = prepare_stage_datasets(stage({"pairs": spec}, max_rows_per_dataset=5), seed=3)
    assert sorted(first) == ["pairs_para", "pairs_qa"]
    for name, report in zip(sorted(first), sorted(reports, key=lambda r: r.name)):
        assert len(first[name]) == 5 and first[name]["anchor"] == again[name]["anchor"]
        assert report.rows_read == 20
        assert report.rows_read == report.dropped["heldout"] + report.capped + report.rows_used
    assert sum(r.dropped["heldout"] for r in reports) > 0


def test_written_datasets_reload_with_a_manifest(tmp_path):
    spec = {
        "type": "local",
        "path": write_jsonl(tmp_path / "p.jsonl", [{"a": "犬", "b": "いぬ"}, {"a": "猫", "b": "ねこ"}]),
        "columns": {"anchor": "a", "positive": "b"},
        "query_prefix": "クエリ: ",
    }
    write_stage_datasets(stage({"animals": spec}), 0, tmp_path / "data", tmp_path / "manifest.json", {"x": 1})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["rows_used"] == 2 and manifest["datasets"][0]["query_prefix"] == "クエリ: "
    assert "config_hash" in manifest["provenance"]
    assert load_from_disk(str(tmp_path / "data"))["animals"]["positive"] == ["いぬ", "ねこ"]
