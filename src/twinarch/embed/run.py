"""Contrastive embedding training: the pretrain-only base model, then WSL and FT stages.

Each stage is sentence-transformers' own `SentenceTransformerTrainer` with
`CachedMultipleNegativesRankingLoss` (InfoNCE with in-batch and hard negatives; gradient caching
makes the batch size a matter of time, not memory) over a DatasetDict, whose per-dataset batch
samplers make every batch task-homogeneous. Training runs through `twinarch.core.launch` (`main(spec)`),
so a job holding several GPUs gets torchrun and the Trainer's own DDP. Checkpoints live in the work
dir passed by the rule; a rerun resumes from the last one only if it belongs to the same run (same
settings, same starting model, same data: twinarch.training.workdir).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from twinarch.core import hub
from twinarch.core.config import Arm
from twinarch.core.device import DeviceSettings, resolve_device_settings
from twinarch.core.io import atomic_write_json, read_json
from twinarch.core.launch import cli
from twinarch.core.provenance import provenance
from twinarch.embed.config import BASE_STAGE, EmbedStage
from twinarch.embed.data import SizeWeightedBatchSampler, dataset_prompts
from twinarch.embed.model import (
    build_embedding_model,
    check_attention_direction,
    load_embedding_model,
    save_embedding_model,
)
from twinarch.pretrain.models import initialize_model
from twinarch.training.callbacks import log_progress_only
from twinarch.training.run import train_resumably, training_callbacks, use_threads

log = logging.getLogger(__name__)

# Texts tokenized per call when counting truncations (the Rust tokenizer parallelizes a call).
TOKENIZE_CHUNK = 4096


@contextlib.contextmanager
def backbone_dir(arm: Arm, source: str | None, random_init: Mapping[str, Any] | None) -> Iterator[str | Path]:
    """The directory (or hub snapshot) of the network a base model wraps; for a control without
    one, its random weights drawn into a temporary directory (sentence-transformers loads from one)."""
    if source is not None:
        yield hub.resolve(source)
        return
    if not random_init:
        raise ValueError(f"arm '{arm.name}': no backbone, and no random_init to draw its weights from")
    with tempfile.TemporaryDirectory(prefix="random-init-") as scratch:
        config_dir = Path(random_init["model_config"]).parent
        yield initialize_model(
            config_dir, random_init["tokenizer"], arm.family, int(random_init["seed"]), Path(scratch) / "m"
        )


def build_base_model(
    arm: Arm,
    source: str | None,
    out_model: str | Path,
    out_manifest: str | Path,
    *,
    normalize: bool,
    max_seq_length: int,
    device: Mapping[str, Any] | None = None,
    random_init: Mapping[str, Any] | None = None,
) -> None:
    """The pretrain-only embedding model: the arm's base network with its pooling, no training.

    Figure 2 and the pretrain-only rows of Table 1 read it; WSL starts from it, so the
    bidirectional switch and the pooling are decided once, here. A no-pretraining control has no
    network to wrap (`source` None): its random weights are drawn here from `random_init` (the arm's
    model config, the shared tokenizer and the replicate seed), as its first training step would.
    """
    started = time.time()
    settings = resolve_device_settings(device)
    with backbone_dir(arm, source, random_init) as network:
        model = build_embedding_model(
            network,
            arm,
            max_seq_length=max_seq_length,
            normalize=normalize,
            attn_implementation=settings.attn_implementation,
        )
    save_embedding_model(model, out_model)
    source = source or f"random (seed {int(random_init['seed'])})"
    fragment = {"arm": arm.__dict__, "source": source, "normalize": normalize, "max_seq_length": max_seq_length}
    atomic_write_json(
        out_manifest,
        {
            "arm": arm.name,
            "estage": BASE_STAGE,
            "source": source,
            "pooling": arm.pooling,
            "bidirectional": bool(arm.is_encoder or arm.bidirectional),
            "normalize": normalize,
            "max_seq_length": max_seq_length,
            "parameters": sum(p.numel() for p in model.parameters()),
            "wall_time_s": round(time.time() - started, 3),
            "provenance": provenance(fragment),
        },
    )


def use_evaluation_weights(optimizer: Any) -> None:
    """Put a schedule-free optimizer's averaged weights into the model before it is saved.

    Schedule-free RAdam trains at interpolated points and keeps the averaged weights, the ones the
    method evaluates, apart; `optimizer.eval()` swaps them in. The Trainer calls it only in its
    evaluation loop, which contrastive training does not run. Other optimizers have no such mode.
    """
    if callable(getattr(optimizer, "eval", None)):
        optimizer.eval()


def mixing_sampler(stage: EmbedStage) -> Any:
    """The `multi_dataset_batch_sampler` argument for the stage's mixing rule."""
    if stage.mixing == "size_weighted":
        return functools.partial(SizeWeightedBatchSampler, alpha=stage.mixing_alpha)
    return stage.mixing  # "proportional" / "round_robin": sentence-transformers' own samplers


def training_arguments(
    stage: EmbedStage,
    work_dir: str | Path,
    seed: int,
    settings: DeviceSettings,
    prompts: Mapping[str, Mapping[str, str]] | None,
) -> Any:
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    return SentenceTransformerTrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=stage.per_device_batch_size,
        gradient_accumulation_steps=stage.gradient_accumulation_steps,
        learning_rate=stage.learning_rate,
        optim=stage.optimizer,
        adam_beta1=stage.betas[0],
        adam_beta2=stage.betas[1],
        adam_epsilon=stage.eps,
        weight_decay=stage.weight_decay,
        lr_scheduler_type=stage.lr_scheduler_type,
        warmup_steps=float(stage.warmup_ratio),  # a float below 1 is a ratio in transformers 5
        max_grad_norm=stage.max_grad_norm,
        num_train_epochs=stage.epochs,
        max_steps=stage.max_steps,
        batch_sampler=BatchSamplers.NO_DUPLICATES if stage.no_duplicates else BatchSamplers.BATCH_SAMPLER,
        multi_dataset_batch_sampler=mixing_sampler(stage),
        prompts=dict(prompts) if prompts else None,
        seed=seed,
        data_seed=seed,
        bf16=settings.dtype == torch.bfloat16,
        fp16=settings.dtype == torch.float16,
        activation_checkpointing=stage.gradient_checkpointing,
        save_strategy="steps",
        save_steps=stage.save_steps,
        save_total_limit=stage.save_total_limit,
        logging_steps=stage.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # NonFiniteLossCallback must see a NaN loss to stop on it
        dataloader_num_workers=stage.dataloader_num_workers,
        report_to="none",
    )


def build_trainer(
    model: Any,
    datasets: Any,
    stage: EmbedStage,
    work_dir: str | Path,
    seed: int,
    settings: DeviceSettings,
    prompts: Mapping[str, Mapping[str, str]] | None = None,
    name: str = "embed",
) -> Any:
    """A SentenceTransformerTrainer with cached InfoNCE (scale = 1 / temperature) and the callbacks
    every training stage shares: progress lines, a stop on a non-finite loss, and checkpoint-then-
    exit on SIGTERM/SIGUSR1."""
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    model.max_seq_length = stage.max_seq_length
    loss = CachedMultipleNegativesRankingLoss(
        model,
        scale=stage.loss_scale,
        mini_batch_size=stage.mini_batch_size,
        gather_across_devices=stage.gather_across_devices,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_arguments(stage, work_dir, seed, settings, prompts),
        train_dataset=datasets,
        loss=loss,
        callbacks=training_callbacks(name),
    )
    return log_progress_only(trainer)


def count_truncated(model: Any, datasets: Any, prompts: Mapping[str, Mapping[str, str]] | None) -> dict[str, int]:
    """Texts per dataset longer than the model's max_seq_length (the tokenizer cuts them in training)."""
    tokenizer, limit = model.tokenizer, model.max_seq_length
    counts = {}
    for name, ds in datasets.items():
        total = 0
        for column in ds.column_names:
            prefix = (prompts or {}).get(name, {}).get(column, "")
            texts = ds[column]
            for start in range(0, len(texts), TOKENIZE_CHUNK):
                chunk = [prefix + t for t in texts[start : start + TOKENIZE_CHUNK]]
                lengths = tokenizer(chunk, truncation=False, return_length=True)["length"]
                total += sum(n > limit for n in lengths)
        counts[name] = total
    return counts


def train_stage(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Run one contrastive stage from a launch spec; the main process saves model and manifest.

    Spec keys: arm (dict), stage (the stage's config), seed, device, init_model, data_dir,
    data_manifest, work_dir, out_model, out_manifest, and optionally threads (CPU threads).
    """
    from datasets import load_from_disk
    from transformers import set_seed

    started = time.time()
    arm = Arm.from_dict(spec["arm"])
    stage = EmbedStage.from_dict({**spec["stage"], **spec.get("operational", {})})
    stage.optimizer_config.check_installed()
    seed = int(spec["seed"])
    set_seed(seed)
    settings = resolve_device_settings(spec.get("device"))
    use_threads(settings, spec.get("threads"))
    model = load_embedding_model(spec["init_model"], attn_implementation=settings.attn_implementation)
    check_attention_direction(model, arm)
    datasets = load_from_disk(spec["data_dir"])
    data_manifest = read_json(spec["data_manifest"])
    prompts = dataset_prompts(data_manifest["datasets"], datasets)
    trainer = build_trainer(
        model, datasets, stage, spec["work_dir"], seed, settings, prompts, name=f"embed {arm.name}/{stage.name}"
    )
    fragment = {k: spec[k] for k in ("arm", "stage", "seed", "device")}
    inputs = {"init_model": spec["init_model"], "data": spec["data_dir"]}
    result, resume = train_resumably(trainer, spec["work_dir"], fragment, inputs)
    if not trainer.is_world_process_zero():
        return None
    use_evaluation_weights(trainer.optimizer)
    save_embedding_model(model, spec["out_model"])
    truncated = count_truncated(model, datasets, prompts)
    per_dataset = [{**d, "truncated_texts": truncated.get(d["name"], 0)} for d in data_manifest["datasets"]]
    manifest = {
        "arm": arm.name,
        "estage": stage.name,
        "init_model": spec["init_model"],
        "datasets": per_dataset,
        "rows_used": sum(d["rows_used"] for d in per_dataset),
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": result.training_loss,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "loss_scale": stage.loss_scale,
        "effective_batch_size": stage.per_device_batch_size
        * stage.gradient_accumulation_steps
        * trainer.args.world_size,
        "resumed_from": resume,
        "wall_time_s": round(time.time() - started, 3),
        "device": settings.as_dict(),
        "provenance": provenance({**fragment, "init_model": spec["init_model"]}),
    }
    atomic_write_json(spec["out_manifest"], manifest)
    return manifest


def main(spec: dict[str, Any]) -> None:
    train_stage(spec)


if __name__ == "__main__":
    cli(main)
