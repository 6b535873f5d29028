"""mteb tasks fed with local files instead of the Hugging Face hub.

A local task is the real mteb task class (its scoring code, its metadata) with `load_data` replaced
by a reader of one of our files. Where a JMTEB task matches the local data (JSTS, JSICK, livedoor
clustering) the very JMTEB class is used, so its split names, score ranges and subsampling apply;
the other local tasks use mteb's abstract task of their type with metadata built from the config.

Everything that can be wrong with the data (a missing file, unmapped columns, a bad value) is found
here, when the task is built, before any model is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.core.io import DataError, iter_jsonl, iter_jsonl_lines, iter_tsv, tsv_header
from twinarch.core.splits import Holdout

log = logging.getLogger(__name__)

# The mteb task type of each local task type, and the columns (roles) each type maps.
MTEB_TYPES = {
    "sts": "STS",
    "retrieval": "Retrieval",
    "reranking": "Reranking",
    "classification": "Classification",
    "clustering": "Clustering",
}
REQUIRED_COLUMNS = {
    "sts": ("sentence1", "sentence2", "score"),
    "classification": ("text", "label"),
    "clustering": ("text", "label"),
    "retrieval": ("id", "text", "positive"),
    "reranking": ("id", "text", "positive", "negatives"),
}
CORPUS_COLUMNS = ("id", "text")
OPTIONAL_CORPUS_COLUMNS = ("title",)
# mteb's own main score per task type (JMTEB's choices where mteb has the task).
DEFAULT_MAIN_SCORES = {
    "sts": "cosine_spearman",
    "retrieval": "ndcg_at_10",
    "reranking": "ndcg_at_10",
    "classification": "accuracy",
    "clustering": "v_measure",
}


@dataclass(frozen=True)
class TaskSpec:
    """One local evaluation task as declared in `config.evaluate.tasks[i]`.

    `path` holds the rows (STS pairs, labelled texts) or, for retrieval and reranking, the queries;
    `corpus` the documents. `columns` maps each role of the task type to a column of `path`.
    """

    name: str
    type: str
    path: str
    columns: Mapping[str, str]
    key: str = "evaluate.tasks"
    mteb_task: str | None = None
    split: str | None = None
    corpus: str | None = None
    corpus_columns: Mapping[str, str] = field(default_factory=dict)
    where: Mapping[str, Any] = field(default_factory=dict)
    holdout: Holdout | None = None
    max_items: int | None = None
    max_documents: int | None = None
    test_fraction: float = 0.5
    main_score: str | None = None
    description: str = ""
    language: str = "jpn-Jpan"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], key: str = "evaluate.tasks") -> TaskSpec:
        data = dict(raw)
        data["holdout"] = Holdout.from_dict(data.get("holdout"))
        spec = cls(key=key, **data)
        spec.check_config()
        return spec

    def check_config(self) -> None:
        """Cross-key checks the schema cannot express (which roles a type needs)."""
        missing = [r for r in REQUIRED_COLUMNS[self.type] if r not in self.columns]
        if missing:
            raise ConfigError(
                f"config key '{self.key}.columns': task '{self.name}' of type {self.type} needs "
                f"columns for {missing} (has {sorted(self.columns)})"
            )
        if self.type in ("retrieval", "reranking"):
            if not self.corpus:
                raise ConfigError(
                    f"config key '{self.key}.corpus': task '{self.name}' ({self.type}) needs a corpus file"
                )
            missing = [r for r in CORPUS_COLUMNS if r not in self.corpus_columns]
            if missing:
                raise ConfigError(
                    f"config key '{self.key}.corpus_columns': task '{self.name}' needs columns for {missing}"
                )

    @property
    def files(self) -> list[str]:
        return [self.path] + ([self.corpus] if self.corpus and self.corpus != self.path else [])


# ---------------------------------------------------------------------------------------------
# Reading rows (JSON Lines or TSV), with the checks that name the task, the file and the columns.


def _iter_rows(path: Path, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a JSON Lines file (`.jsonl`, or JGLUE's `.json` lines) or a TSV file."""
    if path.suffix == ".tsv":
        yield from iter_tsv(path, where)
    else:
        yield from iter_jsonl_lines(path)


def _header(path: Path) -> list[str]:
    if path.suffix == ".tsv":
        return tsv_header(path)
    first = next(iter_jsonl(path), None)
    return sorted(first) if first else []


def check_columns(spec: TaskSpec, path: str, columns: Mapping[str, str]) -> None:
    """Stop before anything expensive when the file is missing or lacks a mapped column."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"evaluation task '{spec.name}': file not found: {file} (config key '{spec.key}')")
    found = _header(file)
    wanted = list(columns.values()) + (list(spec.where) if path == spec.path else [])
    if spec.holdout and path == spec.path:
        wanted.append(spec.holdout.field)
    missing = sorted({c for c in wanted if c not in found})
    if missing:
        raise DataError(
            f"evaluation task '{spec.name}': {file} lacks column(s) {missing} mapped in config key "
            f"'{spec.key}'; columns found: {found}"
        )


def check_task_files(spec: TaskSpec) -> None:
    check_columns(spec, spec.path, spec.columns)
    if spec.corpus:
        check_columns(spec, spec.corpus, spec.corpus_columns)


def _value(row: Mapping[str, Any], column: str, path: str, lineno: int, task: str) -> Any:
    if column not in row:
        raise DataError(f"{path}:{lineno}: evaluation task '{task}': row lacks column '{column}'")
    return row[column]


def _selected(spec: TaskSpec, row: Mapping[str, Any]) -> bool:
    for column, allowed in spec.where.items():
        allowed = allowed if isinstance(allowed, list) else [allowed]
        if row.get(column) not in allowed:
            return False
    return spec.holdout.keeps(row) if spec.holdout else True


def read_records(spec: TaskSpec, path: str, columns: Mapping[str, str], *, filtered: bool) -> list[dict[str, Any]]:
    """Rows of `path` renamed to task roles; rows whose text roles are empty are dropped and counted."""
    text_roles = [r for r in ("sentence1", "sentence2", "text") if r in columns]
    records, empty = [], 0
    for lineno, row in _iter_rows(Path(path), f"evaluation task '{spec.name}' (config key '{spec.key}')"):
        if filtered and not _selected(spec, row):
            continue
        record = {role: _value(row, col, path, lineno, spec.name) for role, col in columns.items()}
        if any(not str(record[r] or "").strip() for r in text_roles):
            empty += 1
            continue
        record["_line"] = lineno
        records.append(record)
    log.info("task %s: %d rows from %s (%d with empty text dropped)", spec.name, len(records), path, empty)
    if not records:
        raise DataError(f"evaluation task '{spec.name}': no rows left in {path} after filters {dict(spec.where)}")
    return records


def _cap(records: list[Any], limit: int | None, seed: int) -> list[Any]:
    """A seeded sample of at most `limit` items, in file order."""
    if limit is None or len(records) <= limit:
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def _float(record: Mapping[str, Any], role: str, spec: TaskSpec) -> float:
    try:
        return float(record[role])
    except (TypeError, ValueError):
        raise DataError(
            f"{spec.path}:{record['_line']}: evaluation task '{spec.name}': {role} '{record[role]}' is not a number"
        ) from None


def _label_ids(labels: list[Any]) -> list[int]:
    """Labels as ints in sorted-name order (sklearn's average precision needs numeric labels)."""
    names = sorted({str(x) for x in labels})
    index = {name: i for i, name in enumerate(names)}
    return [index[str(x)] for x in labels]


# ---------------------------------------------------------------------------------------------
# Building the dataset each mteb task type expects.


def _sts_split(spec: TaskSpec, task_cls: type, seed: int) -> Any:
    from datasets import Dataset

    records = _cap(read_records(spec, spec.path, spec.columns, filtered=True), spec.max_items, seed)
    first, second = task_cls.column_names
    return Dataset.from_dict(
        {
            first: [r["sentence1"] for r in records],
            second: [r["sentence2"] for r in records],
            "score": [_float(r, "score", spec) for r in records],
        }
    )


def _labelled(spec: TaskSpec, seed: int) -> tuple[list[str], list[int]]:
    records = _cap(read_records(spec, spec.path, spec.columns, filtered=True), spec.max_items, seed)
    return [str(r["text"]) for r in records], _label_ids([r["label"] for r in records])


def _clustering_split(spec: TaskSpec, task_cls: type, seed: int) -> Any:
    from datasets import Dataset

    texts, labels = _labelled(spec, seed)
    return Dataset.from_dict({task_cls.input_column_name: texts, task_cls.label_column_name: labels})


def _classification_dataset(spec: TaskSpec, task_cls: type, seed: int, split: str) -> Any:
    """mteb trains a logistic regression on a few examples per label of a train split: a stratified,
    seeded share of the rows scores it, the rest is the pool it draws training examples from."""
    from datasets import Dataset, DatasetDict
    from sklearn.model_selection import train_test_split

    texts, labels = _labelled(spec, seed)
    if len(set(labels)) < 2:
        raise DataError(f"evaluation task '{spec.name}': {spec.path} has fewer than two labels after filters")
    train_idx, test_idx = train_test_split(
        list(range(len(texts))), test_size=spec.test_fraction, random_state=seed, stratify=labels
    )
    text_col, label_col = task_cls.input_column_name, task_cls.label_column_name

    def part(idx: list[int]) -> Dataset:
        idx = sorted(idx)
        return Dataset.from_dict({text_col: [texts[i] for i in idx], label_col: [labels[i] for i in idx]})

    return DatasetDict({task_cls.train_split: part(train_idx), split: part(test_idx)})


def _retrieval_split(spec: TaskSpec, seed: int) -> dict[str, Any]:
    """Queries with their gold document (and, for reranking, the candidates to rerank: the gold
    plus its hard negatives). Queries whose documents are not in the corpus are dropped."""
    from datasets import Dataset

    assert spec.corpus is not None
    docs = read_records(spec, spec.corpus, spec.corpus_columns, filtered=spec.corpus == spec.path)
    corpus = {str(d["id"]): d for d in docs}
    rerank = spec.type == "reranking"
    queries, dropped = [], 0
    for q in read_records(spec, spec.path, spec.columns, filtered=True):
        q["positive"] = str(q["positive"])
        if rerank:
            negatives = q["negatives"] if isinstance(q["negatives"], list) else [q["negatives"]]
            q["negatives"] = [str(n) for n in negatives if str(n) in corpus and str(n) != q["positive"]]
        if q["positive"] not in corpus or (rerank and not q["negatives"]):
            dropped += 1
            continue
        queries.append(q)
    log.info("task %s: %d queries kept, %d without their documents dropped", spec.name, len(queries), dropped)
    if not queries:
        raise DataError(f"evaluation task '{spec.name}': no query of {spec.path} has its documents in {spec.corpus}")
    queries = _cap(queries, spec.max_items, seed)

    needed = {q["positive"] for q in queries}
    if rerank:
        needed |= {n for q in queries for n in q["negatives"]}
        doc_ids = [d for d in corpus if d in needed]
    else:
        others = [d for d in corpus if d not in needed]
        room = None if spec.max_documents is None else max(spec.max_documents - len(needed), 0)
        extra = set(_cap(others, room, seed))
        doc_ids = [d for d in corpus if d in needed or d in extra]
    return {
        "corpus": Dataset.from_dict(
            {
                "id": doc_ids,
                "title": [str(corpus[d].get("title") or "") for d in doc_ids],
                "text": [str(corpus[d]["text"]) for d in doc_ids],
            }
        ),
        "queries": Dataset.from_dict(
            {"id": [str(q["id"]) for q in queries], "text": [str(q["text"]) for q in queries]}
        ),
        "relevant_docs": {str(q["id"]): {q["positive"]: 1} for q in queries},
        "top_ranked": {str(q["id"]): [q["positive"], *q["negatives"]] for q in queries} if rerank else None,
    }


def build_dataset(spec: TaskSpec, task_cls: type, seed: int) -> dict[str, Any]:
    """`{hf_subset: {split: data}}`, the layout every mteb task reads in `evaluate`."""
    split = task_cls.metadata.eval_splits[0]
    if spec.type == "sts":
        data = {split: _sts_split(spec, task_cls, seed)}
    elif spec.type == "clustering":
        data = {split: _clustering_split(spec, task_cls, seed)}
    elif spec.type == "classification":
        data = _classification_dataset(spec, task_cls, seed, split)
    else:
        data = {split: _retrieval_split(spec, seed)}
    return {subset: data for subset in task_cls.metadata.hf_subsets}


# ---------------------------------------------------------------------------------------------
# Task classes.


class LocalData:
    """Mixin placed before an mteb task class: `load_data` reads the spec's local files."""

    spec: TaskSpec

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:  # type: ignore[attr-defined]
            return
        self.dataset = build_dataset(self.spec, type(self), self.seed)  # type: ignore[attr-defined]
        self.data_loaded = True
        if self.spec.type == "clustering" and not self.spec.mteb_task:
            # mteb's clustering defaults (embed 4% of the documents, bootstrap samples of 16,384)
            # suit hub datasets of many thousands; a local task clusters all its documents.
            split = next(iter(self.dataset.values()))[self.metadata.eval_splits[0]]  # type: ignore[attr-defined]
            self.max_fraction_of_documents_to_embed = None
            self.max_documents_per_cluster = len(split)


def files_digest(paths: list[str]) -> str:
    """Stands in for a hub revision in mteb's results: the data a score was computed on."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _base_class(spec: TaskSpec) -> type:
    import mteb
    from mteb.abstasks import (
        AbsTaskClassification,
        AbsTaskClustering,
        AbsTaskRetrieval,
        AbsTaskSTS,
    )

    if spec.mteb_task:
        try:
            base = type(mteb.get_task(spec.mteb_task))
        except KeyError:
            raise ConfigError(f"config key '{spec.key}.mteb_task': mteb has no task '{spec.mteb_task}'") from None
        meta = base.metadata
        if meta.type != MTEB_TYPES[spec.type]:
            raise ConfigError(
                f"config key '{spec.key}.type': mteb task '{spec.mteb_task}' is {meta.type}, not {spec.type}"
            )
        if len(meta.hf_subsets) != 1:
            raise ConfigError(
                f"config key '{spec.key}.mteb_task': '{spec.mteb_task}' has several subsets "
                f"{meta.hf_subsets}; local data can feed only a single-subset task"
            )
        return base
    return {
        "sts": AbsTaskSTS,
        "retrieval": AbsTaskRetrieval,
        "reranking": AbsTaskRetrieval,
        "classification": AbsTaskClassification,
        "clustering": AbsTaskClustering,
    }[spec.type]


def _metadata(spec: TaskSpec, base: type) -> Any:
    from mteb.abstasks.task_metadata import TaskMetadata

    dataset = {"path": spec.path, "revision": files_digest(spec.files)}
    if spec.mteb_task:
        meta = base.metadata
        split = spec.split or meta.eval_splits[0]
        if split not in meta.eval_splits:
            raise ConfigError(
                f"config key '{spec.key}.split': '{split}' is not an eval split of mteb task "
                f"'{spec.mteb_task}' ({meta.eval_splits})"
            )
        update: dict[str, Any] = {"dataset": dataset, "eval_splits": [split]}
        if spec.main_score:
            update["main_score"] = spec.main_score
        return meta.model_copy(update=update)
    return TaskMetadata(
        name=spec.name,
        description=spec.description or f"local {spec.type} task on {Path(spec.path).name}",
        dataset=dataset,
        type=MTEB_TYPES[spec.type],
        category="t2c" if spec.type in ("classification", "clustering") else "t2t",
        modalities=["text"],
        eval_splits=[spec.split or "test"],
        eval_langs=[spec.language],
        main_score=spec.main_score or DEFAULT_MAIN_SCORES[spec.type],
        domains=None,
        license="not specified",
        annotations_creators="derived",
        dialect=[],
        sample_creation="found",
        bibtex_citation="",
    )


def build_local_task(spec: TaskSpec, seed: int) -> Any:
    """The mteb task of `spec` with its data already loaded (so every data error surfaces here)."""
    check_task_files(spec)
    base = _base_class(spec)
    attrs: dict[str, Any] = {"metadata": _metadata(spec, base), "spec": spec}
    task_cls = type(f"Local{base.__name__}", (LocalData, base), attrs)
    task = task_cls(seed=seed)
    task.load_data()
    return task
