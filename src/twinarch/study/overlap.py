"""Auditing a whole config for train/evaluation overlap: every text any training step reads against
every text any scoring job hands to a model, with the containment index that training sources use to
exclude evaluation texts (twinarch.core.containment). It reads every stage's data, so it lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from datasets import Dataset

from twinarch.core.containment import ContainmentIndex
from twinarch.data.sources import build_sources, resolved_corpus_specs
from twinarch.embed.data import prepare_stage_datasets
from twinarch.evaluate.config import task_entry
from twinarch.evaluate.local_tasks import TaskSpec, build_local_task
from twinarch.study.inputs import contrastive_stages

# Columns of an mteb task's data that hold no text a model encodes.
NON_TEXT_COLUMNS = {"id", "title", "label", "labels", "score"}


@dataclass(frozen=True)
class Overlap:
    evaluation: str  # "task / column"
    text: str
    training: str  # the training source that holds it


def pretraining_texts(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, text) of every document any pretraining stage, the tokenizer or an LLM2Vec SimCSE
    step reads."""
    names = [name for stage in config["pretrain"]["stages"] for name in stage["corpora"]]
    names += config["tokenizer"].get("train_corpora") or []
    names += [name for step in (config.get("llm2vec") or {}).get("steps", []) for name in step.get("corpora", [])]
    for source in build_sources(resolved_corpus_specs(config, dict.fromkeys(names))):
        for doc in source.documents():
            yield f"pretraining corpus '{source.name}'", doc.text


def contrastive_texts(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, text) of every anchor, positive and hard negative of every contrastive stage (the
    embedding stages and the pruning study's recovery)."""
    for _, stage in contrastive_stages(config):
        datasets, _ = prepare_stage_datasets(stage, int(config["seed"]))
        for name, ds in datasets.items():
            for column in ds.column_names:
                for text in ds[column]:
                    yield f"embed stage '{stage.name}' dataset '{name}'", text


def evaluation_texts(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """("task / column", text) of every text each local task hands to the model."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, Dataset):
            for column in node.column_names:
                if column not in NON_TEXT_COLUMNS and node.features[column].dtype in ("string", "large_string"):
                    yield from ((f"{where} / {column}", t) for t in node[column])
        elif isinstance(node, Mapping):
            for value in node.values():
                yield from walk(value, where)

    for raw in config["evaluate"].get("tasks") or []:
        task = build_local_task(TaskSpec.from_dict(task_entry(config, raw["name"])), int(config["seed"]))
        task.load_data()
        yield from walk(task.dataset, raw["name"])


def find_overlaps(training: Iterable[tuple[str, str]], evaluation: Iterable[tuple[str, str]]) -> list[Overlap]:
    """Evaluation texts equal to or inside a training text, each reported once."""
    index = ContainmentIndex(evaluation)
    found: dict[tuple[str, str], Overlap] = {}
    for source, text in training:
        for where, needle in index.found_in(text):
            found.setdefault((where, needle), Overlap(where, needle, source))
    return list(found.values())
