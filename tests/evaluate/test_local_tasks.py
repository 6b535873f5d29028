"""Local mteb tasks: each type scores an oracle embedder perfectly and a random one near chance;
bad files stop with the task, the file and the columns named, before any model exists."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from twinarch.core.config import ConfigError
from twinarch.core.io import DataError
from twinarch.core.splits import Holdout
from twinarch.evaluate.local_tasks import TaskSpec, build_local_task

MARKER = re.compile(r"<([^>]+)>")
N = 120  # rows per fixture file: enough for stable chance levels, small enough to encode in ms


class TableEncoder:
    """A custom mteb encoder (mteb's EncoderProtocol): each text carries a marker `<key>`; its
    embedding is `table[key]`, or a hash-seeded Gaussian when `table` is None (random model)."""

    def __init__(self, table: dict[str, np.ndarray] | None, dim: int = 64) -> None:
        from mteb.models.model_meta import ModelMeta

        self.table, self.dim = table, dim
        self.mteb_model_meta = ModelMeta.create_empty(
            overwrites={"name": f"test/{'oracle' if table else 'random'}", "similarity_fn_name": "cosine"}
        )

    def _vector(self, text: str) -> np.ndarray:
        if self.table is None:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
            return np.random.default_rng(seed).standard_normal(self.dim)
        return self.table[MARKER.search(text).group(1)]

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        return np.stack([self._vector(t) for batch in inputs for t in batch["text"]]).astype(np.float32)

    def similarity(self, a, b):
        from mteb.similarity_functions import cos_sim

        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):
        from mteb.similarity_functions import pairwise_cos_sim

        return pairwise_cos_sim(a, b)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def one_hot(keys: list[str]) -> dict[str, np.ndarray]:
    eye = np.eye(len(keys))
    return {k: eye[i] for i, k in enumerate(keys)}


def score(task, encoder, tmp_path) -> float:
    from twinarch.evaluate.scoring import run_task

    return run_task(encoder, task, cache_dir=tmp_path / "mteb", batch_size=32).get_score()


@pytest.fixture()
def sts_file(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.round(rng.uniform(0, 5, N), 1)
    rows = [
        {
            "sentence_pair_id": str(i),
            "sentence1": f"犬が走る<a{i}>",
            "sentence2": f"猫が座る<b{i}>",
            "label": float(y),
        }
        for i, y in enumerate(labels)
    ]
    # The oracle's cosine similarity grows with the gold score: sentence2 turns away from
    # sentence1 by an angle that shrinks as the label grows.
    table = {}
    for i, y in enumerate(labels):
        theta = (5 - y) / 5 * np.pi / 2
        table[f"a{i}"] = np.array([1.0, 0.0])
        table[f"b{i}"] = np.array([np.cos(theta), np.sin(theta)])
    return write_jsonl(tmp_path / "sts.jsonl", rows), table


@pytest.fixture()
def retrieval_files(tmp_path):
    passages = [{"pid": f"p{i}", "title": f"題{i}", "text": f"本文<p{i}>です"} for i in range(N)]
    queries = [
        {
            "qid": f"q{i}",
            "pid": f"p{i % N}",
            "question": f"質問<p{i % N}>か",
            "hard_neg_pids": [f"p{(i + k) % N}" for k in (1, 2, 3, 4)],
        }
        for i in range(N)
    ]
    return (
        write_jsonl(tmp_path / "queries.jsonl", queries),
        write_jsonl(tmp_path / "passages.jsonl", passages),
        one_hot([f"p{i}" for i in range(N)]),
    )


@pytest.fixture()
def labelled_file(tmp_path):
    categories = ["sports", "economy", "science"]
    rows = [
        {
            "id": f"news-{i}",
            "category": categories[i % 3],
            "title": f"見出し{i}",
            "body": f"記事{i}<{categories[i % 3]}>本文",
        }
        for i in range(N)
    ]
    return write_jsonl(tmp_path / "news.jsonl", rows), one_hot(categories)


def sts_spec(path, **kw):
    return TaskSpec.from_dict(
        {
            "name": "LocalSTS",
            "type": "sts",
            "path": path,
            "columns": {"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"},
            **kw,
        }
    )


def retrieval_spec(queries, passages, kind="retrieval", **kw):
    columns = {"id": "qid", "text": "question", "positive": "pid"}
    if kind == "reranking":
        columns["negatives"] = "hard_neg_pids"
    return TaskSpec.from_dict(
        {
            "name": f"Local{kind}",
            "type": kind,
            "path": queries,
            "columns": columns,
            "corpus": passages,
            "corpus_columns": {"id": "pid", "text": "text", "title": "title"},
            **kw,
        }
    )


def labelled_spec(path, kind, **kw):
    return TaskSpec.from_dict(
        {
            "name": f"Local{kind}",
            "type": kind,
            "path": path,
            "columns": {"text": "body", "label": "category"},
            **kw,
        }
    )


def test_sts_oracle_is_perfect_and_random_is_near_zero(sts_file, tmp_path):
    path, table = sts_file
    task = build_local_task(sts_spec(path), seed=0)
    assert task.metadata.main_score == "cosine_spearman"
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    assert abs(score(task, TableEncoder(None), tmp_path)) < 0.25


def test_jsts_is_the_real_mteb_class_on_its_validation_split(sts_file, tmp_path):
    import mteb

    path, table = sts_file
    task = build_local_task(sts_spec(path, name="JSTS", mteb_task="JSTS"), seed=0)
    assert isinstance(task, type(mteb.get_task("JSTS")))
    assert task.metadata.eval_splits == ["validation"]
    assert task.metadata.dataset["path"] == path  # mteb's JSON records the local file, not the hub
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match=r"'test' is not an eval split of mteb task 'JSTS'"):
        build_local_task(sts_spec(path, mteb_task="JSTS", split="test"), seed=0)


def test_retrieval_oracle_is_perfect_and_random_is_near_chance(retrieval_files, tmp_path):
    queries, passages, table = retrieval_files
    task = build_local_task(retrieval_spec(queries, passages), seed=0)
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    # One relevant document among N: a random ranking's nDCG@10 is about 0.03.
    assert score(task, TableEncoder(None), tmp_path) < 0.15


def test_reranking_oracle_is_perfect_and_random_is_near_chance(retrieval_files, tmp_path):
    queries, passages, table = retrieval_files
    task = build_local_task(retrieval_spec(queries, passages, "reranking"), seed=0)
    split = task.dataset["default"]["test"]
    assert all(len(c) == 5 for c in split["top_ranked"].values())  # gold + 4 hard negatives
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    # The gold among 5 candidates in random order: expected nDCG = mean of 1/log2(r+1), r = 1..5.
    chance = np.mean([1 / np.log2(r + 1) for r in range(1, 6)])
    assert score(task, TableEncoder(None), tmp_path) == pytest.approx(chance, abs=0.1)


def test_clustering_oracle_is_perfect_and_random_is_near_zero(labelled_file, tmp_path):
    path, table = labelled_file
    task = build_local_task(labelled_spec(path, "clustering"), seed=0)
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    assert score(task, TableEncoder(None), tmp_path) < 0.2


def test_classification_oracle_is_perfect_and_random_is_near_chance(labelled_file, tmp_path):
    path, table = labelled_file
    task = build_local_task(labelled_spec(path, "classification"), seed=0)
    data = task.dataset["default"]
    assert len(data["train"]) + len(data["test"]) == N
    assert sorted(set(data["test"]["label"])) == [0, 1, 2]  # stratified: every class is scored
    assert score(task, TableEncoder(table), tmp_path) == pytest.approx(1.0)
    assert score(task, TableEncoder(None), tmp_path) == pytest.approx(1 / 3, abs=0.15)


def test_holdout_where_and_caps_select_rows_deterministically(labelled_file, retrieval_files):
    path, _ = labelled_file
    holdout = {"field": "id", "fraction": 0.3, "keep": "heldout"}
    task = build_local_task(
        labelled_spec(path, "clustering", holdout=holdout, where={"category": ["sports", "science"]}), seed=0
    )
    texts = task.dataset["default"]["test"]["sentences"]
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    expected = [r["body"] for r in rows if Holdout(**holdout).keeps(r) and r["category"] != "economy"]
    assert texts == expected

    queries, passages, _ = retrieval_files
    spec = retrieval_spec(queries, passages, max_items=10, max_documents=30)
    split = build_local_task(spec, seed=0).dataset["default"]["test"]
    assert len(split["queries"]) == 10 and len(split["corpus"]) == 30
    gold = {doc for docs in split["relevant_docs"].values() for doc in docs}
    assert gold <= set(split["corpus"]["id"])  # capping the corpus never drops a gold document
    again = build_local_task(spec, seed=0).dataset["default"]["test"]
    assert again["queries"]["id"] == split["queries"]["id"]


def test_missing_file_names_the_task_and_the_file(tmp_path):
    with pytest.raises(DataError, match=r"evaluation task 'LocalSTS': file not found: .*nowhere\.jsonl"):
        build_local_task(sts_spec(str(tmp_path / "nowhere.jsonl")), seed=0)


def test_missing_columns_name_the_task_file_and_columns_found(sts_file):
    path, _ = sts_file
    spec = TaskSpec.from_dict(
        {
            "name": "LocalSTS",
            "type": "sts",
            "path": path,
            "columns": {"sentence1": "sentence1", "sentence2": "sent2", "score": "score"},
        }
    )
    with pytest.raises(DataError) as err:
        build_local_task(spec, seed=0)
    message = str(err.value)
    assert "evaluation task 'LocalSTS'" in message and path in message
    assert (
        "['score', 'sent2']" in message
        and "columns found: ['label', 'sentence1', 'sentence2', 'sentence_pair_id']" in message
    )


def test_tsv_rows_and_bad_values_are_named_by_line(tmp_path):
    tsv = tmp_path / "jsick.tsv"
    tsv.write_text(
        "pair_ID\tdata\tA\tB\tscore\n1\ttest\t犬<a>\t猫<b>\t4.5\n2\ttrain\tx<c>\ty<d>\t1\n3\ttest\t鳥<e>\t魚<f>\tn/a\n",
        encoding="utf-8",
    )
    spec = TaskSpec.from_dict(
        {
            "name": "JSICKLike",
            "type": "sts",
            "path": str(tsv),
            "columns": {"sentence1": "A", "sentence2": "B", "score": "score"},
            "where": {"data": "test"},
        }
    )
    with pytest.raises(
        DataError, match=rf"{re.escape(str(tsv))}:4: evaluation task 'JSICKLike': score 'n/a' is not a number"
    ):
        build_local_task(spec, seed=0)


def test_spec_needs_the_roles_of_its_type(retrieval_files):
    queries, passages, _ = retrieval_files
    with pytest.raises(ConfigError, match=r"config key 'evaluate.tasks\[3\].columns'.*\['negatives'\]"):
        TaskSpec.from_dict(
            {
                "name": "R",
                "type": "reranking",
                "path": queries,
                "corpus": passages,
                "columns": {"id": "qid", "text": "question", "positive": "pid"},
                "corpus_columns": {"id": "pid", "text": "text"},
            },
            key="evaluate.tasks[3]",
        )


def test_jmini_tasks_read_the_real_miniature_data(repo_root, shared_data):
    """Every jmini task maps columns the real files have, and keeps the split JMTEB uses."""
    import yaml

    from twinarch.core.config import deep_update
    from twinarch.evaluate.config import EvaluateSettings

    config = yaml.safe_load((repo_root / "config" / "jmini.yaml").read_text(encoding="utf-8"))
    config = deep_update(config, {"data_root": str(shared_data)})
    tasks = {s.name: build_local_task(s, seed=0) for s in EvaluateSettings.from_config(config).tasks}
    assert tasks["JSTS"].metadata.eval_splits == ["validation"]
    assert tasks["JSICK"].metadata.eval_splits == ["test"]
    jsick = tasks["JSICK"].dataset["default"]["test"]
    assert len(jsick) == 1000 and min(jsick["score"]) >= 1.0
    niilc = tasks["NIILCRetrieval"].dataset["default"]["test"]
    assert len(niilc["queries"]) == 659  # the NIILC dev questions with an evidence sentence
    rerank = tasks["JaQuADReranking"].dataset["default"]["test"]
    assert all(len(c) >= 2 for c in rerank["top_ranked"].values())
    livedoor = tasks["LivedoorNewsClustering.v2"].dataset["default"]["test"]
    assert len(set(livedoor["labels"])) == 9


@pytest.mark.parametrize("kind", ["sts", "retrieval", "reranking", "clustering", "classification"])
def test_per_example_scores_reproduce_mtebs_jmteb_metric(kind, sts_file, retrieval_files, labelled_file, tmp_path):
    """Table 1 is computed from the per-example scores: on every task type their statistic must be
    the very number mteb reports for the JMTEB metric (a random model, so that nothing is 0 or 1)."""
    from twinarch.evaluate.examples import JMTEB_METRICS, task_examples
    from twinarch.evaluate.scoring import PREDICTIONS, run_task
    from twinarch.evaluate.stats import examples_score

    if kind == "sts":
        spec = sts_spec(sts_file[0])
    elif kind in ("retrieval", "reranking"):
        spec = retrieval_spec(*retrieval_files[:2], kind=kind)
    else:
        spec = labelled_spec(labelled_file[0], kind)
    task = build_local_task(spec, seed=0)
    result = run_task(TableEncoder(None), task, cache_dir=tmp_path / "mteb", batch_size=32)
    examples = task_examples(task, result, task._predictions_path(tmp_path / "mteb" / PREDICTIONS))
    metric = JMTEB_METRICS[task.metadata.type]
    assert examples["metric"] == metric
    mteb_score = result.scores["test"][0][metric]
    assert examples_score(examples) == pytest.approx(mteb_score, abs=1e-4)
