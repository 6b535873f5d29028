"""Every input the DAG reads, checked before the work that would be wasted without it.

Evaluation files are first read by their scoring jobs, after every training job: a missing column
there would surface after days of pretraining. So each input is checked twice, by the very readers
its stage uses:

- at parse time, cheaply (the file exists, its first row has the columns the config maps): a wrong
  `data_root` or a renamed column stops `snakemake -n` naming the file and the config key;
- in the `check_inputs` job, completely (every line parses, is UTF-8, has every mapped field, a TSV
  row has the header's field count; hub datasets: the first row of every subset), which the first
  job of each expensive chain takes as an input (`ancient`, so a rerun of the check never reruns
  the training after it).

Files under `results/` are the workflow's own outputs (the demo's synthetic data) and are made
correct by construction; they are not checked here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinarch.core.io import DataError, atomic_write_json, iter_jsonl
from twinarch.core.provenance import provenance
from twinarch.data.sources import LocalCorpus, build_source, resolved_corpus_specs
from twinarch.data.text_samples import PairSource, TextSource
from twinarch.embed.config import EmbedSection
from twinarch.evaluate.config import task_entry
from twinarch.evaluate.local_tasks import TaskSpec, build_local_task, check_task_files
from twinarch.prune.config import PruneSection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputCheck:
    """One configured input: what it is, the config key that names it, its local files, a cheap
    check (parse time) and the whole pass (the job; returns the rows it read)."""

    what: str
    key: str
    files: tuple[str, ...]
    header: Callable[[], None]
    full: Callable[[], int]


def workflow_output(path: str | None) -> bool:
    return bool(path) and str(path).startswith("results/")


def _first_row_has(path: str, fields: list[str], what: str, key: str) -> None:
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found ({what}, config key '{key}')")
    first = next(iter_jsonl(path), None)
    missing = [f for f in fields if first is not None and f not in first]
    if first is None or missing:
        found = sorted(first) if first else "none (empty file)"
        raise DataError(f"{path}: {what} (config key '{key}') needs fields {missing or fields}; fields found: {found}")


def _nothing() -> None:
    """Hub inputs have no cheap offline check; the job reads their first rows."""


def _reader(source: Any) -> Callable[[], int]:
    """Every document of a local corpus; the first one of a hub corpus (which may be terabytes)."""
    if isinstance(source, LocalCorpus):
        return lambda: sum(1 for _ in source.documents())
    return lambda: sum(1 for _ in zip(range(1), source.documents(), strict=False))


def _contrastive_reader(spec: Any, k: int) -> Callable[[], int]:
    def read() -> int:
        from twinarch.embed.data import check_dataset  # torch: the job imports it, parse time does not

        return check_dataset(spec, k)

    return read


def corpus_checks(config: Mapping[str, Any]) -> list[InputCheck]:
    checks = []
    for name, spec in resolved_corpus_specs(config, config["corpora"]).items():
        if spec["type"] == "synthetic":
            continue
        source = build_source(name, spec)
        key = f"corpora.{name}"
        header: Callable[[], None] = _nothing
        if isinstance(source, LocalCorpus):

            def header(source: LocalCorpus = source, key: str = key) -> None:
                if not Path(source.path).is_file():
                    raise DataError(f"{source.path}: file not found (corpus '{source.name}', config key '{key}')")
                for exclusion in source.exclude:
                    _first_row_has(exclusion.path, list(exclusion.fields), f"corpus '{source.name}' exclude", key)

        checks.append(InputCheck(f"corpus '{name}'", key, tuple(source.input_files()), header, _reader(source)))
    return checks


def contrastive_stages(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Every contrastive stage the config trains, with the config key of its datasets: the embed
    stages and, when configured, the pruning study's recovery stage."""
    stages = [(f"embed.stages[{i}]", stage) for i, stage in enumerate(EmbedSection.from_config(config).stages)]
    prune = PruneSection.from_config(config)
    if prune is not None:
        stages.append(("prune.recovery", prune.recovery_stage(config)))
    return stages


def contrastive_checks(config: Mapping[str, Any]) -> list[InputCheck]:
    checks = []
    for prefix, stage in contrastive_stages(config):
        for spec in stage.datasets:
            if spec.type == "synthetic":
                continue
            key = f"{prefix}.datasets.{spec.name}"
            k = stage.num_hard_negatives
            header: Callable[[], None] = _nothing
            if spec.type != "hf":

                def header(spec: Any = spec, key: str = key, k: int = k) -> None:
                    what = f"contrastive dataset '{spec.name}'"
                    _first_row_has(str(spec.source_path), spec.needed_fields(k), what, key)
                    if spec.lookup:
                        _first_row_has(spec.lookup.path, [spec.lookup.key, spec.lookup.text], f"{what} lookup", key)

            checks.append(
                InputCheck(
                    f"contrastive dataset '{spec.name}' (stage {stage.name})",
                    key,
                    tuple(spec.local_files()),
                    header,
                    _contrastive_reader(spec, k),
                )
            )
    return checks


def evaluation_checks(config: Mapping[str, Any]) -> list[InputCheck]:
    seed = int(config["seed"])
    checks = []
    for i, raw in enumerate(config["evaluate"].get("tasks") or []):
        spec = TaskSpec.from_dict(task_entry(config, raw["name"]), key=f"evaluate.tasks[{i}]")
        if workflow_output(spec.path):
            continue

        def full(spec: TaskSpec = spec) -> int:
            task = build_local_task(spec, seed)
            return sum(len(split) for subset in task.dataset.values() for split in subset.values())

        checks.append(
            InputCheck(
                f"evaluation task '{spec.name}'", spec.key, tuple(spec.files), lambda s=spec: check_task_files(s), full
            )
        )
    return checks


def text_source_checks(config: Mapping[str, Any]) -> list[InputCheck]:
    data_root, seed = str(config["data_root"]), int(config["seed"])
    sources = {
        "profile.texts": (TextSource, config["profile"]["texts"]),
        "quality.positive_pairs": (PairSource, config["quality"]["positive_pairs"]),
        "quality.random_texts": (TextSource, config["quality"]["random_texts"]),
    }
    # The studies' own texts, when their sections are configured.
    for i, raw in enumerate((config.get("prune") or {}).get("calibration", {}).get("texts", [])):
        sources[f"prune.calibration.texts[{i}]"] = (TextSource, raw)
    if config.get("sensitivity"):
        sources["sensitivity.documents"] = (TextSource, config["sensitivity"]["documents"])
    checks = []
    for key, (cls, raw) in sources.items():
        source = cls.from_config(key, raw, data_root)
        if workflow_output(source.path):
            continue

        def header(source: Any = source, key: str = key) -> None:
            if source.path and not Path(source.path).is_file():
                raise DataError(f"{source.path}: file not found (config key '{key}')")

        def full(source: Any = source) -> int:
            return len(source.pairs(seed) if isinstance(source, PairSource) else source.texts(seed))

        files = (source.path,) if source.path else ()
        checks.append(InputCheck(f"text source {key}", key, files, header, full))
    return checks


def input_checks(config: Mapping[str, Any]) -> list[InputCheck]:
    return [
        *corpus_checks(config),
        *contrastive_checks(config),
        *evaluation_checks(config),
        *text_source_checks(config),
    ]


def check_headers(config: Mapping[str, Any]) -> None:
    """The parse-time check: every local input exists and its first row has the mapped columns."""
    for check in input_checks(config):
        check.header()


def input_files(config: Mapping[str, Any]) -> list[str]:
    """Every local file the checks read (the check job's inputs), in order, without repeats."""
    return list(dict.fromkeys(f for check in input_checks(config) for f in check.files))


def check_inputs(config: Mapping[str, Any], out_path: str | Path) -> list[dict[str, Any]]:
    """The whole pass over every input; writes what was read, or raises naming the first bad input."""
    rows = []
    for check in input_checks(config):
        count = check.full()
        log.info("%s (config key '%s'): %d rows read, all good", check.what, check.key, count)
        rows.append({"input": check.what, "config_key": check.key, "files": list(check.files), "rows": count})
    atomic_write_json(out_path, {"inputs": rows, "provenance": provenance({"inputs": rows})})
    return rows
