"""One MNTP step of one arm on the transformers Trainer (`python -m twinarch.llm2vec.run_mntp SPEC.json`).

The bidirectional decoder (the previous step's LlamaForCausalLM with `config.is_causal = False`)
learns masked next-token prediction on windows of its own pretraining shards, read in a seeded
order and masked with stream-seeded masks, for a fixed number of optimizer steps (LLM2Vec: 1000).
Full fine-tuning or LoRA (merged before saving). Checkpoints live in a fingerprinted work directory
and a rerun resumes from the newest one of the same run (twinarch.training). Outputs mirror
pretraining's: the model directory, `metrics.jsonl` (losses on a fixed masked validation set) and a
manifest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed
from transformers.utils.logging import disable_progress_bar

from twinarch.core.device import DeviceSettings, resolve_device_settings
from twinarch.core.io import DataError, atomic_dir, atomic_write_json, atomic_write_jsonl
from twinarch.core.launch import cli
from twinarch.core.provenance import provenance
from twinarch.data.tokenizer import tokenizer_hash
from twinarch.llm2vec.config import MntpStep, training_mode
from twinarch.llm2vec.lora import add_lora, merged
from twinarch.llm2vec.mntp import ShardWindows, make_bidirectional, mntp_collator, next_token_accuracy
from twinarch.pretrain.data import PackedBlocks, ShardSet, TokenBudget, fixed_validation_set, training_order
from twinarch.pretrain.run import argmax_logits, eval_rows
from twinarch.training.run import log_done, run_outcome, train_resumably, training_callbacks, use_threads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MntpPaths:
    init_model: str
    shards_manifest: str
    work_dir: str
    output_model: str
    output_manifest: str
    output_metrics: str


@dataclass(frozen=True)
class MntpJob:
    """One (arm, step) run as the workflow's spec describes it: `run_settings` (the job's param)
    merged with `operational_settings` (intervals, workers), plus threads and paths."""

    arm: str
    family: str
    step: MntpStep
    device: Mapping[str, Any]
    seed: int
    paths: MntpPaths
    threads: int = 1

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> MntpJob:
        return cls(
            arm=str(spec["arm"]["name"]),
            family=str(spec["arm"]["family"]),
            step=MntpStep.from_dict({**spec["step"], **spec.get("operational", {})}),
            device=dict(spec.get("device") or {}),
            seed=int(spec["seed"]),
            paths=MntpPaths(**spec["paths"]),
            threads=int(spec.get("threads", 1)),
        )


def training_fragment(spec: Mapping[str, Any], shards: ShardSet) -> dict[str, Any]:
    """What decides the trained weights: the run settings and the shards' contents."""
    fragment = {k: spec[k] for k in ("arm", "step", "device", "seed")}
    fragment["shards"] = [s.sha256 for s in (*shards.train, shards.validation)]
    return fragment


def training_arguments(job: MntpJob, settings: DeviceSettings) -> TrainingArguments:
    """LLM2Vec's run: a fixed step budget, evaluation and checkpoints every so many steps; Adam's
    betas and epsilon stay transformers' defaults, as LLM2Vec's configs leave them."""
    step = job.step
    return TrainingArguments(
        output_dir=job.paths.work_dir,
        max_steps=step.max_steps,
        per_device_train_batch_size=step.per_device_batch_size,
        per_device_eval_batch_size=step.per_device_batch_size,
        gradient_accumulation_steps=step.gradient_accumulation_steps,
        learning_rate=step.learning_rate,
        weight_decay=step.weight_decay,
        lr_scheduler_type=step.lr_scheduler,
        warmup_steps=float(step.warmup_ratio),  # a float below 1 is a ratio in transformers 5
        max_grad_norm=step.max_grad_norm,
        eval_strategy="steps",
        eval_steps=step.eval_every_steps,
        eval_on_start=True,
        save_strategy="steps",
        save_steps=step.checkpoint_every_steps,
        save_total_limit=step.keep_checkpoints,
        logging_steps=step.log_every_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # NonFiniteLossCallback must see a NaN loss to stop on it
        seed=job.seed,
        data_seed=job.seed,
        train_sampling_strategy="sequential",  # the dataset already is the seeded order
        bf16=settings.dtype == torch.bfloat16,
        fp16=settings.dtype == torch.float16,
        use_cpu=settings.device == "cpu",
        activation_checkpointing=step.activation_checkpointing,
        dataloader_num_workers=step.dataloader_workers,
        remove_unused_columns=False,  # the collator consumes `stream_index` (it seeds the masking)
        report_to="none",
        disable_tqdm=True,
    )


def check_inputs(job: MntpJob, tokenizer: Any, vocab_size: int) -> ShardSet:
    """Refuse shards that another tokenizer wrote or that do not fit the model, before training."""
    shards = ShardSet.load(job.paths.shards_manifest)
    shards.check(
        seq_len=shards.seq_len,
        tokenizer_hash=tokenizer_hash(job.paths.init_model),
        vocab_size=len(tokenizer),
        model_vocab_size=vocab_size,
    )
    if job.step.seq_len > shards.seq_len:
        raise DataError(
            f"{shards.manifest_path}: blocks of {shards.seq_len} tokens are shorter than MNTP step "
            f"'{job.step.name}' seq_len {job.step.seq_len}"
        )
    return shards


def load_model(job: MntpJob, settings: DeviceSettings) -> Any:
    """The previous step's causal LM, made bidirectional; with LoRA adapters when the step asks."""
    set_seed(job.seed)
    log.info("continuing from %s", job.paths.init_model)
    model = AutoModelForCausalLM.from_pretrained(job.paths.init_model, attn_implementation=settings.attn_implementation)
    make_bidirectional(model)
    if job.step.lora:
        return add_lora(model, job.step.lora, job.step.activation_checkpointing)
    return model


@dataclass
class MntpRun:
    job: MntpJob
    trainer: Trainer
    budget: TokenBudget
    shards: ShardSet
    settings: DeviceSettings
    tokenizer: Any


def build_run(spec: Mapping[str, Any]) -> MntpRun:
    """Check the inputs, plan the windows, masks and validation set, and build the Trainer."""
    job = MntpJob.from_spec(spec)
    settings = resolve_device_settings(job.device)
    use_threads(settings, job.threads)
    tokenizer = AutoTokenizer.from_pretrained(job.paths.init_model)
    model = load_model(job, settings)
    shards = check_inputs(job, tokenizer, model.config.vocab_size)
    args = training_arguments(job, settings)
    step = job.step
    windows_per_step = step.per_device_batch_size * step.gradient_accumulation_steps * args.world_size
    budget = TokenBudget(
        tokens=step.max_steps * windows_per_step * step.seq_len,
        tokens_per_step=windows_per_step * step.seq_len,
        steps=step.max_steps,
        blocks=step.max_steps * windows_per_step,
    )
    train = ShardWindows(PackedBlocks([s.path for s in shards.train]), step.seq_len)
    where = f"{shards.manifest_path} (MNTP step '{step.name}', arm '{job.arm}', windows of {step.seq_len})"
    order = training_order(job.seed, train.available, budget.blocks, step.loop_epochs, where)
    collator = mntp_collator(tokenizer, step, job.seed)
    validation = fixed_validation_set(
        ShardWindows(PackedBlocks([shards.validation.path]), step.seq_len), collator, step.eval_max_blocks
    )
    log.info(
        "%s/%s: MNTP, %d steps x %d windows of %d tokens (%.2f passes over %d windows), %s, %s",
        job.arm,
        step.name,
        budget.steps,
        windows_per_step,
        step.seq_len,
        budget.blocks / train.available,
        train.available,
        f"LoRA r={step.lora.r}" if step.lora else "full fine-tuning",
        settings.as_dict(),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ShardWindows(train.blocks, step.seq_len, order),
        eval_dataset=validation,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=next_token_accuracy,
        preprocess_logits_for_metrics=argmax_logits,
        callbacks=training_callbacks(f"mntp {job.arm}/{step.name}", budget.tokens_per_step),
    )
    return MntpRun(job, trainer, budget, shards, settings, tokenizer)


def save_model(run: MntpRun, out_dir: str | Path) -> Path:
    """The plain LlamaForCausalLM (adapters merged), its bidirectional config and the tokenizer."""
    model = merged(run.trainer.model)
    model.config.is_causal = False
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp))
        run.tokenizer.save_pretrained(str(tmp))
    return Path(out_dir)


def main(spec: dict[str, Any]) -> dict[str, Any] | None:
    """Run one (arm, MNTP step), resuming from this run's newest checkpoint; returns the manifest
    on the main process."""
    started = time.perf_counter()
    disable_progress_bar()  # the progress callback logs instead
    run = build_run(spec)
    fragment = training_fragment(spec, run.shards)
    inputs = {"init_model": run.job.paths.init_model}
    _, resumed = train_resumably(run.trainer, run.job.paths.work_dir, fragment, inputs)
    if not run.trainer.is_world_process_zero():
        return None
    return write_outputs(run, fragment, resumed, time.perf_counter() - started)


def write_outputs(run: MntpRun, fragment: Mapping[str, Any], resumed: str | None, wall_time: float) -> dict[str, Any]:
    """The declared outputs, each written atomically: model directory, metrics.jsonl, manifest."""
    job, trainer, budget = run.job, run.trainer, run.budget
    rows = eval_rows(trainer, budget)
    save_model(run, job.paths.output_model)
    atomic_write_jsonl(job.paths.output_metrics, rows)
    manifest = {
        "arm": job.arm,
        "step": job.step.name,
        "kind": job.step.kind,
        "init_model": job.paths.init_model,
        "bidirectional": True,
        "mask_token": job.step.mask_token,
        "masking": {
            "mlm_probability": job.step.mlm_probability,
            "mask_replace_prob": job.step.mask_replace_prob,
            "random_replace_prob": job.step.random_replace_prob,
        },
        "training": training_mode(job.step.lora),
        "steps": trainer.state.global_step,
        "tokens_seen": trainer.state.global_step * budget.tokens_per_step,
        "tokens_per_step": budget.tokens_per_step,
        "seq_len": job.step.seq_len,
        **run_outcome(trainer, rows, resumed, wall_time, run.settings),
        "provenance": provenance(fragment),
    }
    atomic_write_json(job.paths.output_manifest, manifest)
    log_done(f"{job.arm}/{job.step.name}", manifest)
    return manifest


if __name__ == "__main__":
    cli(main)
