"""One model on one task with mteb: the tidy row, mteb's own JSON, the NaN guard, task listing."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from unittest import mock

import pytest
from tiny_models import save_tiny_pretrained

from twinarch.core.config import ConfigError
from twinarch.core.io import DataError
from twinarch.evaluate.config import evaluation_task_names, task_entry, task_input_files
from twinarch.evaluate.scoring import EmbeddingError, evaluate_model, resolve_task

SETTINGS = {
    "stages": ["base", "ft"],
    "batch_size": 16,
    "max_seq_length": 32,
    "benchmark": None,
    "benchmark_split": "test",
    "prefixes": {},
}


def save_sentence_transformer(family: str, tokenizer_dir: Path, out: Path, nan: bool = False) -> Path:
    """A tiny random SentenceTransformer dir like the embed stage writes (transformer + mean pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    hf_dir = save_tiny_pretrained(family, tokenizer_dir, out.parent / f"{out.name}-hf")
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    model = SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean")], device="cpu"
    )
    if nan:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
    model.save(str(out))
    return out


def sts_entry(tmp_path: Path, n: int = 40) -> dict:
    path = tmp_path / "sts.jsonl"
    rows = [{"sentence1": f"犬が{i}回走る", "sentence2": f"猫が{i % 7}回座る", "label": float(i % 6)} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return {
        "name": "LocalSTS",
        "type": "sts",
        "path": str(path),
        "columns": {"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"},
    }


def test_evaluate_model_writes_the_tidy_row_and_mteb_json(tiny_tokenizer_dir, tmp_path):
    model_dir = save_sentence_transformer("modernbert", tiny_tokenizer_dir, tmp_path / "encoder-ft")
    out = tmp_path / "results" / "LocalSTS.json"
    (row,) = evaluate_model(
        model_dir,
        [out],
        arm="encoder",
        replicate=1,
        stage="ft",
        entries=[sts_entry(tmp_path)],
        settings=SETTINGS,
        device={"dtype": "auto", "attn_implementation": "auto"},
        seed=0,
        cache_dir=tmp_path / "mteb",
    )
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(row, default=str))
    assert row["seed"] == 1 and row["jmteb_metric"] == "cosine_spearman"
    assert row["jmteb_score"] == pytest.approx(row["scores"]["cosine_spearman"], abs=1e-4)
    examples = json.loads((tmp_path / "results" / "LocalSTS.examples.json").read_text(encoding="utf-8"))
    assert examples["kind"] == "pairs" and len(examples["subsets"][0]["pred"]) == 40
    assert "display_name" not in row  # renaming an arm re-makes Table 1, never a score
    assert (row["arm"], row["stage"], row["task"]) == (
        "encoder",
        "ft",
        "LocalSTS",
    )
    assert (row["category"], row["split"], row["metric"], row["data"]) == (
        "STS",
        "test",
        "cosine_spearman",
        "local",
    )
    assert -1 <= row["main_score"] <= 1 and math.isfinite(row["main_score"])
    assert row["scores"]["cosine_spearman"] == pytest.approx(row["main_score"], abs=1e-5)
    # mteb's own JSON sits in the cache beside the row, under this (arm, stage)'s model name.
    mteb_json = Path(row["mteb_result"])
    assert mteb_json.is_file() and "twinarch__encoder-ft" in mteb_json.parts
    assert json.loads(mteb_json.read_text(encoding="utf-8"))["task_name"] == "LocalSTS"
    assert "config_hash" in row["provenance"]


def search_entries(tmp_path: Path, n: int = 24) -> list[dict]:
    """A retrieval and a reranking task over one corpus whose documents have titles (mteb joins a
    document's title to its text before encoding)."""
    passages = [{"pid": f"p{i}", "title": f"題{i % 5}", "text": f"本文{i}は{i % 3}です"} for i in range(n)]
    queries = [
        {"qid": f"q{i}", "pid": f"p{i}", "question": f"{i}は何か", "negs": [f"p{(i + k) % n}" for k in (1, 2)]}
        for i in range(n)
    ]
    for name, rows in (("passages", passages), ("queries", queries)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    common = {
        "path": str(tmp_path / "queries.jsonl"),
        "corpus": str(tmp_path / "passages.jsonl"),
        "corpus_columns": {"id": "pid", "text": "text", "title": "title"},
    }
    columns = {"id": "qid", "text": "question", "positive": "pid"}
    return [
        {"name": "LocalRetrieval", "type": "retrieval", "columns": columns, **common},
        {"name": "LocalReranking", "type": "reranking", "columns": {**columns, "negatives": "negs"}, **common},
    ]


def test_texts_that_several_tasks_read_are_encoded_once_with_the_same_scores(tiny_tokenizer_dir, tmp_path, caplog):
    model_dir = save_sentence_transformer("llama", tiny_tokenizer_dir, tmp_path / "decoder-ft")
    first = sts_entry(tmp_path)
    entries = [first, {**first, "name": "LocalSTSAgain"}, *search_entries(tmp_path)]

    def score(folder, settings=SETTINGS, shared=True):
        caplog.clear()
        unshared = mock.patch("twinarch.evaluate.scoring.SharedEmbeddings", side_effect=lambda encoder: encoder)
        with contextlib.nullcontext() if shared else unshared, caplog.at_level("INFO", "twinarch.evaluate.scoring"):
            rows = evaluate_model(
                model_dir,
                [tmp_path / folder / f"{e['name']}.json" for e in entries],
                arm="decoder",
                replicate=0,
                stage="ft",
                entries=entries,
                settings=settings,
                device=None,
                seed=0,
                cache_dir=tmp_path / folder / "mteb",
            )
        reuse = [r.getMessage() for r in caplog.records if "from earlier tasks" in r.getMessage()]
        return {r["task"]: r["jmteb_score"] for r in rows}, reuse

    shared, reuse = score("shared")
    alone, _ = score("alone", shared=False)
    # The same scores whether a text is encoded for its task or taken from an earlier one: the
    # reranking candidates are the retrieval corpus's documents, read with their titles as mteb reads them.
    assert shared == pytest.approx(alone, abs=1e-6)
    assert "LocalSTSAgain (None): 40 texts, 0 encoded, 40 from earlier tasks" in reuse
    assert any(
        m.startswith("LocalReranking (document)") and m.endswith(" 0 encoded, 24 from earlier tasks") for m in reuse
    )
    # With prefixes a prompt may depend on the task, so nothing is shared.
    _, reuse = score("prefixed", {**SETTINGS, "prefixes": {"query": "q: ", "document": "d: "}})
    assert reuse == []


def test_nan_embeddings_stop_naming_the_arm_and_task(tiny_tokenizer_dir, tmp_path):
    model_dir = save_sentence_transformer("llama", tiny_tokenizer_dir, tmp_path / "decoder-ft", nan=True)
    with pytest.raises(
        EmbeddingError,
        match=r"arm 'decoder' \(stage ft\) yields NaN or infinite embeddings on task 'LocalSTS'",
    ):
        evaluate_model(
            model_dir,
            [tmp_path / "row.json"],
            arm="decoder",
            replicate=0,
            stage="ft",
            entries=[sts_entry(tmp_path)],
            settings=SETTINGS,
            device=None,
            seed=0,
            cache_dir=tmp_path / "cache",
        )
    assert not (tmp_path / "row.json").exists()


def test_bad_data_stops_before_any_model_is_loaded(tmp_path):
    entry = sts_entry(tmp_path)
    entry["path"] = str(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match=r"evaluation task 'LocalSTS': file not found"):
        evaluate_model(
            tmp_path / "no-model-here",
            [tmp_path / "row.json"],
            arm="encoder",
            replicate=0,
            stage="base",
            entries=[entry],
            settings=SETTINGS,
            device=None,
            seed=0,
            cache_dir=tmp_path / "cache",
        )


def test_paper_tasks_are_jmteb_v2_listed_offline():
    config = {"evaluate": {"benchmark": "JMTEB(v2)", "benchmark_split": "test", "tasks": []}}
    names = evaluation_task_names(config)
    assert len(names) == 28 and {
        "JSTS",
        "JSICK",
        "JaqketRetrieval",
        "ESCIReranking",
        "LivedoorNewsClustering.v2",
    } <= set(names)
    assert task_input_files(config, "JSTS") == []
    # Tasks with validation and test splits are scored on test only, and only in Japanese.
    amazon = resolve_task(task_entry(config, "AmazonReviewsClassification"), seed=0)
    assert list(amazon.eval_splits) == ["test"] and amazon.hf_subsets == ["ja"]


def test_task_entries_resolve_data_root_and_names_are_unique():
    local = {"name": "JSTS", "type": "sts", "path": "{data_root}/jglue/jsts_valid.json", "columns": {}}
    config = {"data_root": "/data", "evaluate": {"tasks": [local]}}
    assert task_input_files(config, "JSTS") == ["/data/jglue/jsts_valid.json"]
    with pytest.raises(ConfigError, match=r"task names \['JSTS'\] appear twice"):
        evaluation_task_names({"evaluate": {"tasks": [local, local]}})
