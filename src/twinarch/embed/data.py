"""Contrastive training data: configured sources -> one normalized `datasets.Dataset` per task.

Every dataset comes out with the columns sentence-transformers' in-batch-negative losses expect,
in order: `anchor`, `positive`, then `negative_1..negative_k`. Keeping each source (each hub subset,
each `split_by` value) a separate entry of a `DatasetDict` is what makes batches task-homogeneous:
the trainer builds one batch sampler per entry and a multi-dataset sampler picks, per batch, which
entry to draw from.

Rows are never silently lost: each dropped row has a reason, counted per dataset and written to the
manifest (below_min_score, heldout, missing_lookup, empty_text, too_few_negatives, capped).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from sentence_transformers.base.sampler import MultiDatasetDefaultBatchSampler

from twinarch.core import hub
from twinarch.core.containment import ContainmentIndex, exclusion_index
from twinarch.core.io import DataError, atomic_dir, atomic_write_json, iter_jsonl_lines
from twinarch.core.provenance import provenance
from twinarch.embed.config import ContrastiveDatasetSpec, EmbedStage

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

log = logging.getLogger(__name__)

DROP_REASONS = ("below_min_score", "heldout", "missing_lookup", "empty_text", "too_few_negatives", "evaluation_text")
DROP_COLUMN = "_drop_reason"
ROLES = ("anchor", "positive", "hard_negatives")


@dataclass
class DatasetReport:
    """What happened to one dataset's rows on their way to training."""

    name: str
    source: str
    rows_read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    capped: int = 0
    rows_used: int = 0
    columns: list[str] = field(default_factory=list)
    query_prefix: str = ""
    document_prefix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def negative_columns(k: int) -> list[str]:
    return [f"negative_{i}" for i in range(1, k + 1)]


def dataset_key(*parts: str) -> str:
    """A DatasetDict key (a valid split name) from a source name and a subset or split value."""
    return "_".join(re.sub(r"\W+", "_", str(p)).strip("_") for p in parts if str(p))


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_columns(name: str, where: str, found: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(
            f"contrastive dataset '{name}' ({where}): missing column(s) {missing}; columns found: {sorted(found)}"
        )


def load_lookup(spec: ContrastiveDatasetSpec) -> dict[str, str]:
    """key -> text of the spec's lookup file; a row without the key or text field names its line."""
    assert spec.lookup is not None
    table: dict[str, str] = {}
    wanted = [spec.lookup.key, spec.lookup.text]
    for lineno, row in iter_jsonl_lines(spec.lookup.path):
        missing = [f for f in wanted if f not in row]
        if missing:
            raise DataError(
                f"{spec.lookup.path}:{lineno}: contrastive dataset '{spec.name}': lookup row lacks field(s) "
                f"{missing}; fields found: {sorted(row)}"
            )
        table[str(row[spec.lookup.key])] = row[spec.lookup.text]
    return table


def normalize_batch(
    batch: Mapping[str, list[Any]], spec: ContrastiveDatasetSpec, k: int, lookup: Mapping[str, str] | None
) -> dict[str, list[Any]]:
    """Map a batch of source rows to anchor/positive/negative_i, with a drop reason per row ('' = kept).

    A pure function of the batch, so `datasets.map` can run it batched (and in parallel) on hub data.
    """
    size = len(next(iter(batch.values())))
    use_negatives = k > 0 and "hard_negatives" in spec.columns
    out: dict[str, list[Any]] = {"anchor": [], "positive": [], DROP_COLUMN: []}
    out.update({c: [] for c in negative_columns(k if use_negatives else 0)})
    resolve = set(spec.lookup.columns) if spec.lookup else set()

    def text_of(role: str, value: Any) -> Any:
        return lookup.get(str(value)) if role in resolve and lookup is not None else value

    for i in range(size):
        row = {f: batch[f][i] for f in batch}
        anchor = text_of("anchor", row[spec.columns["anchor"]])
        positive = text_of("positive", row[spec.columns["positive"]])
        negatives: list[Any] = []
        reason = ""
        if spec.min_score and not _at_least(row[spec.min_score["field"]], spec.min_score["min"]):
            reason = "below_min_score"
        elif spec.holdout and not spec.holdout.keeps(row):
            reason = "heldout"
        elif anchor is None or positive is None:
            reason = "missing_lookup"
        elif not (is_text(anchor) and is_text(positive)):
            reason = "empty_text"
        elif use_negatives:
            raw = row[spec.columns["hard_negatives"]] or []
            if isinstance(raw, str):
                raw = [raw]
            texts = [text_of("hard_negatives", v) for v in raw]
            if "hard_negatives" in resolve and any(t is None for t in texts):
                reason = "missing_lookup"
            negatives = [t for t in texts if is_text(t)][:k]
            if not reason and len(negatives) < k:
                reason = "too_few_negatives"
        kept = not reason
        out["anchor"].append(anchor if kept else "")
        out["positive"].append(positive if kept else "")
        for col, text in zip(negative_columns(k if use_negatives else 0), negatives + [""] * k):
            out[col].append(text if kept else "")
        out[DROP_COLUMN].append(reason)
    return out


def _negative_index(column: str) -> int:
    return int(column.rsplit("_", 1)[1])


def _at_least(value: Any, minimum: float) -> bool:
    try:
        return value is not None and float(value) >= minimum
    except (TypeError, ValueError):
        return False


def read_raw_groups(spec: ContrastiveDatasetSpec, k: int) -> dict[str, Dataset]:
    """The source's rows as one raw Dataset per resulting training dataset (subset / split value)."""
    from datasets import Dataset

    wanted = spec.needed_fields(k)
    if spec.type == "hf":
        return _read_hub_groups(spec, wanted)
    path = str(spec.source_path)
    if not Path(path).is_file():
        raise DataError(f"contrastive dataset '{spec.name}': file not found: {path}")
    groups: dict[str, dict[str, list[Any]]] = {}
    for lineno, row in iter_jsonl_lines(path):
        missing = [f for f in wanted if f not in row]
        if missing:
            raise DataError(
                f"{path}:{lineno}: contrastive dataset '{spec.name}': row lacks field(s) {missing} that its "
                f"config entry maps (columns, min_score, holdout, split_by); fields found: {sorted(row)}"
            )
        key = dataset_key(spec.name, row.get(spec.split_by, "")) if spec.split_by else spec.name
        columns = groups.setdefault(key, {f: [] for f in wanted})
        for f in wanted:
            columns[f].append(row.get(f))
    if not groups:
        raise DataError(f"contrastive dataset '{spec.name}': {path} holds no rows")
    return {key: Dataset.from_dict(columns) for key, columns in sorted(groups.items())}


def hub_subsets(spec: ContrastiveDatasetSpec, source: str) -> Sequence[str | None]:
    """The subsets a hub dataset is read as: all of them (the dataset's configs), the listed ones, or
    the dataset as it is."""
    import datasets

    if spec.subsets == "all":
        return datasets.get_dataset_config_names(source, revision=spec.revision)
    return spec.subsets or [None]


def _read_hub_groups(spec: ContrastiveDatasetSpec, wanted: list[str]) -> dict[str, Dataset]:
    import datasets

    source = hub.resolve(str(spec.dataset))
    groups = {}
    for subset in hub_subsets(spec, source):
        ds = datasets.load_dataset(source, subset, split=spec.split, revision=spec.revision)
        where = f"{spec.dataset}" + (f", subset {subset}" if subset else "") + f", split {spec.split}"
        check_columns(spec.name, where, ds.column_names, wanted)
        groups[dataset_key(spec.name, subset or "")] = ds.select_columns(wanted)
    return groups


def check_dataset(spec: ContrastiveDatasetSpec, k: int) -> int:
    """Read a dataset as its stage will, before any training: every local row and its lookup
    file (field by field, line by line), or the first row of every hub subset (its columns). Returns
    the rows read (hub: subsets checked)."""
    if spec.type != "hf":
        if spec.lookup:
            load_lookup(spec)
        return sum(len(ds) for ds in read_raw_groups(spec, k).values())
    import datasets

    source = hub.resolve(str(spec.dataset))
    subsets = hub_subsets(spec, source)
    for subset in subsets:
        stream = datasets.load_dataset(source, subset, split=spec.split, revision=spec.revision, streaming=True)
        first = next(iter(stream), None)
        where = f"{spec.dataset}" + (f", subset {subset}" if subset else "") + f", split {spec.split}"
        if first is None:
            raise DataError(f"contrastive dataset '{spec.name}' ({where}) holds no rows")
        check_columns(spec.name, where, list(first), spec.needed_fields(k))
    return len(subsets)


def normalize_group(
    key: str,
    raw: Dataset,
    spec: ContrastiveDatasetSpec,
    stage: EmbedStage,
    seed: int,
    lookup: Mapping[str, str] | None,
    excluded: ContainmentIndex | None = None,
) -> tuple[Dataset, DatasetReport]:
    """Normalize, drop (with reasons) and cap one training dataset; rows holding an excluded
    (evaluation) text in any column are dropped before the cap."""
    k = stage.num_hard_negatives
    report = DatasetReport(
        name=key,
        source=spec.dataset or str(spec.source_path),
        rows_read=len(raw),
        query_prefix=spec.query_prefix,
        document_prefix=spec.document_prefix,
    )
    ds = raw.map(
        normalize_batch,
        batched=True,
        fn_kwargs={"spec": spec, "k": k, "lookup": lookup},
        remove_columns=raw.column_names,
        desc=f"normalizing {key}",
    )
    reasons = Counter(ds[DROP_COLUMN])
    report.dropped = {r: reasons.get(r, 0) for r in DROP_REASONS}
    ds = ds.filter(lambda r: [x == "" for x in r], input_columns=[DROP_COLUMN], batched=True)
    # The losses read columns by position (anchor first, then positive, then negatives), and
    # `map` keeps an input column's old position when an output reuses its name.
    ds = ds.select_columns([c for c in ds.column_names if c != DROP_COLUMN])
    ds = ds.select_columns(
        ["anchor", "positive", *sorted(set(ds.column_names) - {"anchor", "positive"}, key=_negative_index)]
    )
    if excluded:
        keep = [i for i, row in enumerate(ds) if not excluded.contains_any(*row.values())]
        report.dropped["evaluation_text"] = len(ds) - len(keep)
        ds = ds.select(keep).flatten_indices()
    cap = spec.max_rows or stage.max_rows_per_dataset
    if cap is not None and len(ds) > cap:
        report.capped = len(ds) - cap
        ds = ds.shuffle(seed=seed).select(range(cap)).flatten_indices()
    report.rows_used = len(ds)
    report.columns = list(ds.column_names)
    dropped = {r: n for r, n in report.dropped.items() if n}
    log.info(
        "%s: %d rows read, %d used, dropped %s, capped %d",
        key,
        report.rows_read,
        report.rows_used,
        dropped,
        report.capped,
    )
    return ds, report


def prepare_stage_datasets(stage: EmbedStage, seed: int) -> tuple[DatasetDict, list[DatasetReport]]:
    """Every dataset of a stage, normalized, as a DatasetDict (one entry per task)."""
    from datasets import DatasetDict

    out: dict[str, Dataset] = {}
    reports: list[DatasetReport] = []
    for spec in stage.datasets:
        lookup = load_lookup(spec) if spec.lookup else None
        excluded = exclusion_index(spec.exclude, f"contrastive dataset '{spec.name}'")
        for key, raw in read_raw_groups(spec, stage.num_hard_negatives).items():
            if key in out:
                raise DataError(f"embed stage '{stage.name}': two datasets are both named '{key}'")
            ds, report = normalize_group(key, raw, spec, stage, seed, lookup, excluded)
            reports.append(report)
            if len(ds) == 0:
                log.warning("%s: no rows left after cleaning; left out of training", key)
                continue
            out[key] = ds
    if not out:
        raise DataError(f"embed stage '{stage.name}': no training rows left in any dataset")
    return DatasetDict(out), reports


def write_stage_datasets(
    stage: EmbedStage, seed: int, out_dir: str | Path, manifest_path: str | Path, config_fragment: Any
) -> list[DatasetReport]:
    """Prepare a stage's datasets and write them (Arrow, memory-mapped by every training process)
    with a manifest of rows read, dropped (by reason), capped and used per dataset."""
    datasets, reports = prepare_stage_datasets(stage, seed)
    with atomic_dir(out_dir) as tmp:
        datasets.save_to_disk(str(tmp))
    atomic_write_json(
        manifest_path,
        {
            "stage": stage.name,
            "datasets": [r.as_dict() for r in reports],
            "rows_used": sum(r.rows_used for r in reports),
            "provenance": provenance(config_fragment),
        },
    )
    return reports


def dataset_prompts(reports: Sequence[Mapping[str, Any]], datasets: DatasetDict) -> dict[str, dict[str, str]] | None:
    """Per-dataset, per-column prefixes for SentenceTransformerTrainingArguments.prompts (None if none)."""
    prompts: dict[str, dict[str, str]] = {}
    for report in reports:
        name = report["name"]
        if name not in datasets or not (report["query_prefix"] or report["document_prefix"]):
            continue
        prompts[name] = {
            col: report["query_prefix"] if col == "anchor" else report["document_prefix"]
            for col in datasets[name].column_names
        }
    return prompts or None


class SizeWeightedBatchSampler(MultiDatasetDefaultBatchSampler):
    """Each batch comes from dataset i with probability proportional to rows_i ** alpha.

    sentence-transformers ships proportional and round-robin mixing only; temperature-style mixing
    (alpha < 1 up-samples small tasks) is this small sampler. An epoch has as many batches as the
    proportional sampler's; a dataset that runs out starts a fresh shuffled pass.
    """

    def __init__(
        self,
        dataset: Any,
        batch_samplers: list[Any],
        generator: torch.Generator | None = None,
        seed: int = 0,
        alpha: float = 0.5,
    ) -> None:
        super().__init__(dataset, batch_samplers=batch_samplers, generator=generator, seed=seed)
        self.alpha = alpha

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        sizes = [len(d) for d in self.dataset.datasets]
        offsets = [0, *accumulate(sizes)]
        weights = torch.tensor([s**self.alpha for s in sizes], dtype=torch.float64)
        iterators = [iter(s) for s in self.batch_samplers]
        for idx in torch.multinomial(weights, len(self), replacement=True, generator=generator).tolist():
            try:
                batch = next(iterators[idx])
            except StopIteration:
                iterators[idx] = iter(self.batch_samplers[idx])
                batch = next(iterators[idx])
            yield [i + offsets[idx] for i in batch]

    def __len__(self) -> int:
        return sum(len(s) for s in self.batch_samplers)
