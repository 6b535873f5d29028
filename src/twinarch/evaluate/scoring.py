"""Scoring one embedding model on one task with mteb, as one tidy row.

One task per job, so adding a task re-runs only that task. Tasks are either JMTEB tasks of mteb's
benchmark registry (hub data, paper scale) or local tasks (`twinarch.evaluate.local_tasks`): the same
`mteb.evaluate` call scores both. mteb's heavy imports stay inside functions so that the Snakefile
can list tasks without importing mteb unless a benchmark is configured.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.core.io import atomic_write_json
from twinarch.core.provenance import provenance
from twinarch.evaluate.config import EvaluateSettings
from twinarch.evaluate.local_tasks import LocalData, TaskSpec, build_local_task

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """A model produced embeddings (or a score) that cannot be right; names the arm and task."""


def model_name(arm: str, stage: str) -> str:
    """mteb keys its results by model name: one per (arm, stage), so local models never collide."""
    return f"twinarch/{arm}-{stage}"


def resolve_task(entry: Mapping[str, Any], seed: int) -> Any:
    """The mteb task of a task entry, with local data loaded (so bad data stops here)."""
    if "benchmark" not in entry:
        return build_local_task(TaskSpec.from_dict(entry), seed)
    import mteb

    tasks = [t for t in mteb.get_benchmark(entry["benchmark"]).tasks if t.metadata.name == entry["name"]]
    if not tasks:
        raise ConfigError(f"config key 'evaluate.benchmark': '{entry['benchmark']}' has no task '{entry['name']}'")
    task = tasks[0]
    # JMTEB reports the test split; mteb also scores validation splits where a task has them.
    split = entry.get("split")
    if split and split in task.eval_splits and len(task.eval_splits) > 1:
        task.filter_eval_splits([split])
    return task


class FiniteEmbeddings:
    """An mteb encoder that stops the evaluation when embeddings are NaN or infinite.

    mteb would otherwise score them (NaN similarities sort arbitrarily) and a broken model would
    show up as a low number in Table 1 instead of an error. Hand-written: mteb has no such check.
    """

    def __init__(self, encoder: Any, *, arm: str, stage: str) -> None:
        self.encoder = encoder
        self.arm = arm
        self.stage = stage
        self.mteb_model_meta = encoder.mteb_model_meta

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

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        return self.encoder.similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        return self.encoder.similarity_pairwise(embeddings1, embeddings2)


def load_embedder(
    model_dir: str | Path,
    *,
    arm: str,
    stage: str,
    settings: EvaluateSettings,
    device: Mapping[str, Any] | None = None,
) -> FiniteEmbeddings:
    """The SentenceTransformer dir as an mteb encoder, on this machine's device, dtype and kernel."""
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
    log.info(
        "loaded %s as %s (max_seq_length %s, %s)",
        model_dir,
        model_name(arm, stage),
        model.max_seq_length,
        dev.as_dict(),
    )
    return FiniteEmbeddings(wrapper, arm=arm, stage=stage)


def run_task(encoder: Any, task: Any, *, cache_dir: str | Path, batch_size: int) -> Any:
    """`mteb.evaluate` on one task; returns mteb's TaskResult. mteb writes its own JSON into
    `cache_dir`; a stale result there is never reused (Snakemake decides what is out of date)."""
    import mteb

    result = mteb.evaluate(
        encoder,
        task,
        cache=mteb.ResultCache(cache_path=str(cache_dir)),
        encode_kwargs={"batch_size": batch_size},
        overwrite_strategy="always",
        co2_tracker=False,
    )
    return result.task_results[0]


def tidy_row(result: Any, task: Any, *, arm: str, stage: str, name: str) -> dict[str, Any]:
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


def evaluate_model(
    model_dir: str | Path,
    out_path: str | Path,
    *,
    arm: str,
    stage: str,
    entry: Mapping[str, Any],
    settings: Mapping[str, Any],
    device: Mapping[str, Any] | None,
    seed: int,
    cache_dir: str | Path,
    threads: int | None = None,
) -> dict[str, Any]:
    """Score `model_dir` on one task and write the tidy row (mteb's JSON goes to `cache_dir`)."""
    import torch
    from transformers import set_seed

    set_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    evaluate_settings = EvaluateSettings(**settings)
    task = resolve_task(entry, seed)
    encoder = load_embedder(model_dir, arm=arm, stage=stage, settings=evaluate_settings, device=device)
    result = run_task(encoder, task, cache_dir=cache_dir, batch_size=evaluate_settings.batch_size)
    row = tidy_row(result, task, arm=arm, stage=stage, name=entry["name"])
    row["model_dir"] = str(model_dir)
    import mteb

    row["mteb_result"] = str(
        mteb.ResultCache(cache_path=str(cache_dir)).get_task_result_path(task.metadata.name, encoder.mteb_model_meta)
    )
    row["provenance"] = provenance({"task": dict(entry), "evaluate": dict(settings), "arm": arm, "stage": stage})
    atomic_write_json(out_path, row)
    log.info("%s / %s / %s: %s = %.4f", arm, stage, entry["name"], row["metric"], row["main_score"])
    return row
