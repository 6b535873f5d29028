"""Scoring one embedding model on one task with mteb, as one tidy row.

One task per job, so adding a task re-runs only that task. Tasks are either JMTEB tasks of mteb's
benchmark registry (hub data, paper scale) or local tasks (`twinarch.evaluate.local_tasks`): the same
`mteb.evaluate` call scores both. mteb's heavy imports stay inside functions so that the Snakefile
can list tasks without importing mteb unless a benchmark is configured.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twinarch.core import hub
from twinarch.core.config import ConfigError
from twinarch.core.io import atomic_write_json
from twinarch.core.provenance import provenance
from twinarch.evaluate.config import EvaluateSettings, examples_path
from twinarch.evaluate.examples import task_examples, write_examples
from twinarch.evaluate.local_tasks import LocalData, TaskSpec, build_local_task
from twinarch.evaluate.stats import examples_score

log = logging.getLogger(__name__)

PREDICTIONS = "predictions"


class EmbeddingError(RuntimeError):
    """A model produced embeddings (or a score) that cannot be right; names the arm and task."""


def model_name(arm: str, stage: str) -> str:
    """mteb keys its results by model name: one per (arm, stage), so local models never collide."""
    return f"twinarch/{arm}-{stage}"


def mirrored(task: Any) -> Any:
    """The benchmark task reading its data from the hub mirror's copy when there is one.

    Only the data moves: mteb loads a task's data with `datasets.load_dataset(**metadata.dataset)`
    (retrieval tasks through `RetrievalDatasetLoader(metadata.dataset["path"], ...)`), so pointing
    the metadata's path at the copy leaves the task class, its splits, subsets and scoring as they are.
    """
    path = task.metadata.dataset["path"]
    source = hub.resolve(path)
    if source != path:
        task.metadata = task.metadata.model_copy(update={"dataset": {**task.metadata.dataset, "path": source}})
    return task


def resolve_task(entry: Mapping[str, Any], seed: int) -> Any:
    """The mteb task of a task entry, with local data loaded (so bad data stops here)."""
    if "benchmark" not in entry:
        return build_local_task(TaskSpec.from_dict(entry), seed)
    import mteb

    tasks = [t for t in mteb.get_benchmark(entry["benchmark"]).tasks if t.metadata.name == entry["name"]]
    if not tasks:
        raise ConfigError(f"config key 'evaluate.benchmark': '{entry['benchmark']}' has no task '{entry['name']}'")
    # A copy: mteb's benchmark objects are shared in the process, and the mirror and split change this one.
    task = mirrored(copy.deepcopy(tasks[0]))
    # JMTEB reports the test split; mteb also scores validation splits where a task has them.
    split = entry.get("split")
    if split and split in task.eval_splits and len(task.eval_splits) > 1:
        task.filter_eval_splits([split])
    return task


class WrappedEncoder:
    """An mteb encoder in front of another one, whose model meta and similarity functions it keeps."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.mteb_model_meta = encoder.mteb_model_meta

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        return self.encoder.similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        return self.encoder.similarity_pairwise(embeddings1, embeddings2)


class FiniteEmbeddings(WrappedEncoder):
    """An mteb encoder that stops the evaluation when embeddings are NaN or infinite.

    mteb would otherwise score them (NaN similarities sort arbitrarily) and a broken model would
    show up as a low number in Table 1 instead of an error. Hand-written: mteb has no such check.
    """

    def __init__(self, encoder: Any, *, arm: str, stage: str) -> None:
        super().__init__(encoder)
        self.arm = arm
        self.stage = stage

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> Any:
        import numpy as np
        import torch

        embeddings = self.encoder.encode(
            inputs,
            task_metadata=task_metadata,
            hf_split=hf_split,
            hf_subset=hf_subset,
            prompt_type=prompt_type,
            **kwargs,
        )
        values = (
            embeddings.float().cpu().numpy()
            if isinstance(embeddings, torch.Tensor)
            else np.asarray(embeddings, dtype=np.float64)
        )
        bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1)
        if bad.any():
            raise EmbeddingError(
                f"arm '{self.arm}' (stage {self.stage}) yields NaN or infinite embeddings on task "
                f"'{task_metadata.name}' ({int(bad.sum())} of {len(values)} texts in split {hf_split})"
            )
        return embeddings


class SharedEmbeddings(WrappedEncoder):
    """An mteb encoder that encodes each distinct text once per job, across the job's tasks: a text
    that several tasks read is embedded once (JaQuAD's passages are both a retrieval corpus and the
    reranking candidates; livedoor's held-out articles are clustered and classified), about a quarter
    of a jmini scoring job (benchmarks/bench_scoring.py).

    Keyed by (prompt type, text as the model reads it), which is right only when no prompt depends on
    the task (the caller's check) and only within one model: an instance lives for one job. Texts
    not seen yet are re-batched from the rows mteb already prepared, with the dataloader's own
    collate function, so the model reads exactly what it would have read. Hand-written because
    mteb's CachedEmbeddingWrapper keys its cache by task, and prepares the rows it re-batches a
    second time (a retrieval document gets its title joined twice: NIILC's nDCG@10 moved by 7
    points in the benchmark). Vectors are kept up to `max_floats` (1 GiB of float32 by default),
    then new texts are encoded without being kept.
    """

    def __init__(self, encoder: Any, max_floats: int = 1 << 28) -> None:
        super().__init__(encoder)
        self.max_floats = max_floats
        self.vectors: dict[tuple[Any, str], Any] = {}
        self.floats = 0

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> Any:
        import numpy as np
        import torch
        from torch.utils.data import DataLoader

        call = dict(task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset, prompt_type=prompt_type)
        dataset = inputs.dataset
        if "text" not in getattr(dataset, "column_names", ()):
            return self.encoder.encode(inputs, **call, **kwargs)
        keys = [(prompt_type, text) for text in dataset["text"]]
        new: dict[tuple[Any, str], int] = {}
        for index, key in enumerate(keys):
            if key not in self.vectors:
                new.setdefault(key, index)
        fresh: dict[tuple[Any, str], Any] = {}
        if new:
            loader = DataLoader(
                dataset.select(list(new.values())),
                batch_size=inputs.batch_size,
                collate_fn=inputs.collate_fn,
                shuffle=False,
            )
            embedded = self.encoder.encode(loader, **call, **kwargs)
            if isinstance(embedded, torch.Tensor):
                embedded = embedded.float().cpu().numpy()
            fresh = dict(zip(new, np.asarray(embedded), strict=True))
            for key, vector in fresh.items():
                if self.floats + vector.size <= self.max_floats:
                    self.vectors[key] = vector
                    self.floats += vector.size
        log.info(
            "%s (%s): %d texts, %d encoded, %d from earlier tasks",
            task_metadata.name,
            prompt_type,
            len(keys),
            len(new),
            len(keys) - sum(1 for key in keys if key in new),
        )
        return np.stack([fresh[key] if key in fresh else self.vectors[key] for key in keys])


def load_embedder(
    model_dir: str | Path,
    *,
    arm: str,
    stage: str,
    settings: EvaluateSettings,
    device: Mapping[str, Any] | None = None,
    share: bool = False,
) -> FiniteEmbeddings:
    """The SentenceTransformer dir as an mteb encoder, on this machine's device, dtype and kernel;
    with `share` and no prefixes, each distinct text is encoded once across the job's tasks."""
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    from twinarch.core.device import resolve_device_settings

    dev = resolve_device_settings(device)
    model = SentenceTransformer(
        str(model_dir),
        device=dev.device,
        local_files_only=True,
        model_kwargs={"dtype": dev.dtype, "attn_implementation": dev.attn_implementation},
    )
    if settings.max_seq_length:
        model.max_seq_length = settings.max_seq_length
    model.model_card_data.model_name = model_name(arm, stage)
    wrapper = SentenceTransformerEncoderWrapper(model, model_prompts=dict(settings.prefixes) or None)
    share = share and not settings.prefixes
    log.info(
        "loaded %s as %s (max_seq_length %s, %s; texts shared across tasks encoded once: %s)",
        model_dir,
        model_name(arm, stage),
        model.max_seq_length,
        dev.as_dict(),
        share,
    )
    return FiniteEmbeddings(SharedEmbeddings(wrapper) if share else wrapper, arm=arm, stage=stage)


def run_task(encoder: Any, task: Any, *, cache_dir: str | Path, batch_size: int) -> Any:
    """`mteb.evaluate` on one task; returns mteb's TaskResult. mteb writes its own JSON into
    `cache_dir`, and the model's predictions into `cache_dir/predictions` (what the per-example
    scores are made from); a stale result there is never reused (Snakemake decides what is out of
    date). The task's data is loaded first, so mteb leaves it loaded for the per-example scores."""
    import mteb

    task.load_data()
    result = mteb.evaluate(
        encoder,
        task,
        cache=mteb.ResultCache(cache_path=str(cache_dir)),
        encode_kwargs={"batch_size": batch_size},
        overwrite_strategy="always",
        co2_tracker=False,
        prediction_folder=Path(cache_dir) / PREDICTIONS,
    )
    return result.task_results[0]


def tidy_row(result: Any, task: Any, *, arm: str, seed: int, stage: str, name: str) -> dict[str, Any]:
    """One row of the study's results: what Table 1 aggregates."""
    meta = task.metadata
    main = float(result.get_score())
    if not math.isfinite(main):
        raise EmbeddingError(
            f"arm '{arm}' (stage {stage}) scores {main} ({meta.main_score}) on task '{name}': "
            "the embeddings are probably constant"
        )
    first_split = next(iter(result.scores))
    numbers = {
        k: v
        for k, v in result.scores[first_split][0].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return {
        "arm": arm,
        "seed": seed,
        "stage": stage,
        "task": name,
        "mteb_task": meta.name,
        "category": meta.type,
        "split": ",".join(result.scores),
        "main_score": main,
        "metric": meta.main_score,
        "data": "local" if isinstance(task, LocalData) else "hub",
        "dataset": meta.dataset.get("path"),
        "dataset_revision": meta.dataset.get("revision"),
        "evaluation_time_s": result.evaluation_time,
        "scores": numbers,
    }


def score_and_write(
    model: Any,
    task: Any,
    out_path: str | Path,
    *,
    arm: str,
    replicate: int | None,
    stage: str,
    entry: Mapping[str, Any],
    batch_size: int,
    cache_dir: str | Path,
    fragment: Mapping[str, Any],
) -> dict[str, Any]:
    """Run mteb, then write the tidy row and the per-example scores beside it."""
    import mteb

    result = run_task(model, task, cache_dir=cache_dir, batch_size=batch_size)
    row = tidy_row(result, task, arm=arm, seed=replicate, stage=stage, name=entry["name"])
    examples = task_examples(task, result, task._predictions_path(Path(cache_dir) / PREDICTIONS))
    row["jmteb_metric"] = examples["metric"]
    row["jmteb_score"] = examples_score(examples)
    write_examples(examples_path(out_path), examples)
    cache = mteb.ResultCache(cache_path=str(cache_dir))
    row["mteb_result"] = str(cache.get_task_result_path(task.metadata.name, model.mteb_model_meta))
    row["provenance"] = provenance(dict(fragment))
    atomic_write_json(out_path, row)
    log.info(
        "%s / %s / %s: %s = %.4f (mteb's main score %s = %.4f)",
        arm,
        stage,
        entry["name"],
        row["jmteb_metric"],
        row["jmteb_score"],
        row["metric"],
        row["main_score"],
    )
    return row


def evaluate_model(
    model_dir: str | Path,
    row_paths: Sequence[str | Path],
    *,
    arm: str,
    replicate: int,
    stage: str,
    entries: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    device: Mapping[str, Any] | None,
    seed: int,
    cache_dir: str | Path,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Score `model_dir` on every task of `entries`, loaded once; each task's tidy row goes to the
    matching `row_paths` entry, its per-example scores beside it, mteb's JSON to `cache_dir`.
    Every task's data is read (and checked) before the model is loaded."""
    import torch
    from transformers import set_seed

    set_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    evaluate_settings = EvaluateSettings(**settings)
    tasks = [resolve_task(entry, seed) for entry in entries]
    encoder = load_embedder(model_dir, arm=arm, stage=stage, settings=evaluate_settings, device=device, share=True)
    return [
        score_and_write(
            encoder,
            task,
            out_path,
            arm=arm,
            replicate=replicate,
            stage=stage,
            entry=entry,
            batch_size=evaluate_settings.batch_size,
            cache_dir=cache_dir,
            fragment={
                "task": dict(entry),
                "evaluate": dict(settings),
                "arm": arm,
                "stage": stage,
                "model": str(model_dir),
            },
        )
        for task, entry, out_path in zip(tasks, entries, row_paths, strict=True)
    ]


def evaluate_baseline(
    baseline: Mapping[str, Any],
    row_paths: Sequence[str | Path],
    *,
    entries: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    seed: int,
    cache_dir: str | Path,
) -> list[dict[str, Any]]:
    """Score a model that needs no training (an mteb baseline such as BM25) on search tasks."""
    import mteb

    tasks = [resolve_task(entry, seed) for entry in entries]
    model = mteb.get_model(baseline["model"])
    batch_size = EvaluateSettings(**settings).batch_size
    rows = []
    for task, entry, out_path in zip(tasks, entries, row_paths, strict=True):
        fragment = {"task": dict(entry), "evaluate": dict(settings), "baseline": dict(baseline)}
        rows.append(
            score_and_write(
                model,
                task,
                out_path,
                arm=baseline["name"],
                replicate=None,
                stage="baseline",
                entry=entry,
                batch_size=batch_size,
                cache_dir=cache_dir,
                fragment=fragment,
            )
        )
    return rows
