"""Typed view of the `evaluate` config section and the task list the workflow scores
(schema: workflow/schemas/evaluate.schema.yaml).

Free of heavy imports (no mteb): the workflow lists tasks at parse time, benchmark tasks from the
frozen registry in `twinarch.evaluate.benchmarks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError, resolve_path
from twinarch.evaluate.benchmarks import benchmark_task_names, benchmark_tasks
from twinarch.evaluate.local_tasks import MTEB_TYPES, TaskSpec

# Table 1 reports the fine-tuned models; its companion table the pretrain-only ones.
TABLE1_STAGE = "ft"
PRETRAIN_ONLY_STAGE = "base"


@dataclass(frozen=True)
class EvaluateSettings:
    """The validated `config.evaluate` section."""

    stages: tuple[str, ...] = ("base", "ft")
    batch_size: int = 32
    max_seq_length: int | None = None
    benchmark: str | None = None
    benchmark_split: str | None = "test"
    benchmark_tasks: tuple[str, ...] | None = None
    prefixes: Mapping[str, str] = field(default_factory=dict)
    tasks: tuple[TaskSpec, ...] = ()
    bootstrap_resamples: int = 1000
    permutations: int = 2000
    baselines: tuple[Mapping[str, Any], ...] = ()
    score_pretrain_only: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EvaluateSettings:
        """Build from the whole config: local paths get `{data_root}` expanded."""
        section = dict(config.get("evaluate") or {})
        tasks = tuple(
            TaskSpec.from_dict(_resolved_task(config, raw), key=f"evaluate.tasks[{i}]")
            for i, raw in enumerate(section.pop("tasks", []))
        )
        section["stages"] = tuple(section.get("stages", cls.stages))
        section["baselines"] = tuple(section.get("baselines", ()))
        return cls(tasks=tasks, **section)


def _resolved_task(config: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    task = dict(raw)
    for key in ("path", "corpus"):
        if task.get(key):
            task[key] = resolve_path(config, task[key])
    return task


def evaluation_task_names(config: Mapping[str, Any]) -> list[str]:
    """Every task the workflow scores: the benchmark's, then the local ones, each name once."""
    section = config.get("evaluate") or {}
    names = benchmark_task_names(section["benchmark"]) if section.get("benchmark") else []
    if section.get("benchmark_tasks"):
        unknown = sorted(set(section["benchmark_tasks"]) - set(names))
        if unknown:
            raise ConfigError(
                f"config key 'evaluate.benchmark_tasks': {unknown} are not tasks of benchmark "
                f"'{section.get('benchmark')}'"
            )
        names = [n for n in names if n in section["benchmark_tasks"]]
    names += [t["name"] for t in section.get("tasks", [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"config key 'evaluate.tasks': task names {dupes} appear twice (or also in the benchmark)")
    return names


# Task types a lexical search baseline (BM25) can be scored on.
SEARCH_CATEGORIES = ("Retrieval", "Reranking")


def task_categories(config: Mapping[str, Any]) -> dict[str, str]:
    """Task name -> mteb task type, for every task the workflow scores (no mteb import)."""
    section = config.get("evaluate") or {}
    categories = dict(benchmark_tasks(section["benchmark"])) if section.get("benchmark") else {}
    categories.update({t["name"]: MTEB_TYPES[t["type"]] for t in section.get("tasks", [])})
    return categories


def baseline_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for raw in (config.get("evaluate") or {}).get("baselines", []):
        if raw["name"] == name:
            return dict(raw)
    raise ConfigError(f"config key 'evaluate.baselines': no baseline named '{name}'")


def examples_path(row_path: str | Path) -> Path:
    """The per-example scores written beside a task's tidy row (`<task>.examples.json`)."""
    row_path = Path(row_path)
    return row_path.with_name(f"{row_path.stem}.examples.json")


def task_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The config fragment that defines one task (local: its spec with paths resolved; benchmark:
    the benchmark and split). It is a job's param, so editing one task re-runs only that task."""
    section = config.get("evaluate") or {}
    for raw in section.get("tasks", []):
        if raw["name"] == name:
            return _resolved_task(config, raw)
    return {"name": name, "benchmark": section["benchmark"], "split": section.get("benchmark_split")}


def task_input_files(config: Mapping[str, Any], name: str) -> list[str]:
    """Local files a task reads (none for hub tasks)."""
    entry = task_entry(config, name)
    return [entry[k] for k in ("path", "corpus") if entry.get(k)]
