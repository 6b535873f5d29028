"""One pretraining script for both objectives, on the transformers Trainer.

The encoder (ModernBERT) learns masked language modelling, the decoder (Llama) causal language
modelling; a spec's `objective` may give a family the other one (the ladder stage's cross-objective
continued training, see `use_objective`). Everything else is shared: the same packed shards in the
same seeded order, the same optimizer, schedule, batch and token budget (times the arm's
`token_budget_scale`). A stage starts from random init or from the previous stage's final weights;
checkpoints live in a work directory and a rerun resumes from the newest one of the same run
(twinarch.training.workdir). The Trainer does the training, DDP (under torchrun) and DeepSpeed; this
module only wires config, data and outputs to it.

`python -m twinarch.pretrain.run SPEC.json` is what torchrun starts on every process (see twinarch.core.launch).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel, Trainer, TrainingArguments, set_seed
from transformers.masking_utils import (
    causal_mask_function,
    create_bidirectional_mask,
    create_bidirectional_sliding_window_mask,
)
from transformers.trainer_utils import EvalPrediction
from transformers.utils.logging import disable_progress_bar

from twinarch.core.config import FAMILIES
from twinarch.core.device import DeviceSettings, resolve_device_settings
from twinarch.core.io import DataError, atomic_dir, atomic_write_json, atomic_write_jsonl, read_json, writing
from twinarch.core.launch import cli
from twinarch.core.provenance import provenance
from twinarch.data.tokenizer import MANIFEST_NAME as TOKENIZER_MANIFEST_NAME
from twinarch.pretrain.config import PretrainConfig, StageConfig
from twinarch.pretrain.data import (
    PackedBlocks,
    ShardSet,
    StreamSeededCollator,
    TokenBudget,
    fixed_validation_set,
    language_model_collator,
    token_stream_sha256,
    training_order,
)
from twinarch.pretrain.models import model_class, random_model
from twinarch.training.run import log_done, run_outcome, train_resumably, training_callbacks, use_threads

log = logging.getLogger(__name__)

# Spec keys that shape a run when present (see PretrainJob).
OPTIONAL_RUN_KEYS = ("objective", "lr_scheduler_kwargs")
# The transformers loss (`PreTrainedModel.loss_type`, a key of transformers.loss.LOSS_MAPPING) of
# each objective: the Trainer reads it too, to count a causal loss's targets over labels[..., 1:].
LOSS_TYPES = {"mlm": "ForMaskedLM", "clm": "ForCausalLM"}


@dataclass(frozen=True)
class PretrainPaths:
    shards_manifest: str
    tokenizer_dir: str
    model_config: str
    work_dir: str
    output_model: str
    output_manifest: str
    output_metrics: str
    init_model: str | None = None


@dataclass(frozen=True)
class PretrainJob:
    """One (arm, stage) pretraining run, as the workflow's spec describes it (JSON-able).

    The spec is `run_settings` (what shapes the run: the job's Snakemake param) merged with
    `operational_settings` (checkpoint and logging intervals, threads), plus the paths. Optional
    keys: `objective` (`mlm` or `clm`, when the model trains with another objective than its
    family's) and `lr_scheduler_kwargs` (the Trainer's, see `scheduler_kwargs`).
    """

    arm: str
    family: str
    token_budget_scale: float
    stage: StageConfig
    pretrain: PretrainConfig
    device: Mapping[str, Any]
    seed: int
    paths: PretrainPaths
    threads: int = 1
    trained_objective: str | None = None
    lr_scheduler_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PretrainJob:
        operational = spec.get("operational", {})
        return cls(
            arm=str(spec["arm"]["name"]),
            family=str(spec["arm"]["family"]),
            token_budget_scale=float(spec["arm"].get("token_budget_scale", 1.0)),
            stage=StageConfig.from_dict({**spec["stage"], **operational.get("stage", {})}),
            pretrain=PretrainConfig.from_dict({**spec["pretrain"], **operational.get("pretrain", {})}),
            device=dict(spec.get("device") or {}),
            seed=int(spec["seed"]),
            paths=PretrainPaths(**spec["paths"]),
            threads=int(spec.get("threads", 1)),
            trained_objective=spec.get("objective"),
            lr_scheduler_kwargs=dict(spec.get("lr_scheduler_kwargs") or {}),
        )

    @property
    def objective(self) -> str:
        """The objective trained: the spec's `objective`, else the family's own."""
        return self.trained_objective or FAMILIES[self.family]


def training_fragment(spec: Mapping[str, Any], shards: ShardSet) -> dict[str, Any]:
    """What decides the trained weights: the run settings (not where files go, not intervals or
    thread counts) and the content of the token shards (their sha256, from the data stage)."""
    fragment = {k: spec[k] for k in ("arm", "stage", "pretrain", "device", "seed")}
    # Only when given, so that the runs of a family's own objective keep their fingerprints.
    fragment.update({k: spec[k] for k in OPTIONAL_RUN_KEYS if k in spec})
    fragment["shards"] = [s.sha256 for s in (*shards.train, shards.validation)]
    return fragment


def run_inputs(job: PretrainJob) -> dict[str, str | None]:
    """The files whose content the run depends on beyond its settings and shards."""
    return {
        "init_model": job.paths.init_model,
        "model_config": job.paths.model_config,
        "tokenizer": job.paths.tokenizer_dir,
    }


def build_training_arguments(job: PretrainJob, settings: DeviceSettings, steps: int) -> TrainingArguments:
    stage, opt = job.stage, job.pretrain.optimizer
    return TrainingArguments(
        output_dir=job.paths.work_dir,
        max_steps=steps,
        per_device_train_batch_size=stage.per_device_batch_size,
        per_device_eval_batch_size=stage.per_device_batch_size,
        gradient_accumulation_steps=stage.gradient_accumulation_steps,
        learning_rate=stage.learning_rate,
        optim=opt.name,
        adam_beta1=opt.betas[0],
        adam_beta2=opt.betas[1],
        adam_epsilon=opt.eps,
        weight_decay=opt.weight_decay,
        lr_scheduler_type=opt.lr_scheduler,
        lr_scheduler_kwargs=scheduler_kwargs(job, steps),
        warmup_steps=opt.warmup_ratio,
        max_grad_norm=opt.max_grad_norm,
        eval_strategy="steps",
        eval_steps=stage.eval_every_steps,
        eval_on_start=True,
        save_strategy="steps",
        save_steps=stage.checkpoint_every_steps,
        save_total_limit=job.pretrain.keep_checkpoints,
        logging_steps=stage.log_every_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,
        seed=job.seed,
        data_seed=job.seed,
        # The dataset already is the seeded order shared by every arm.
        train_sampling_strategy="sequential",
        bf16=settings.dtype == torch.bfloat16,
        fp16=settings.dtype == torch.float16,
        use_cpu=settings.device == "cpu",
        deepspeed=stage.deepspeed,
        activation_checkpointing=stage.activation_checkpointing,
        dataloader_num_workers=job.pretrain.dataloader_workers,
        # The collator consumes `stream_index` (it seeds the masking); the Trainer must pass it on.
        remove_unused_columns=False,
        prediction_loss_only=job.objective != "mlm",
        report_to="none",
        disable_tqdm=True,
    )


def scheduler_kwargs(job: PretrainJob, steps: int) -> dict[str, Any]:
    """The spec's `lr_scheduler_kwargs` for the Trainer's scheduler. A `decay_ratio` becomes
    `num_decay_steps` of transformers' warmup_stable_decay schedule (its share of the run's steps):
    budgets are in tokens, so the step count is known only here, once the world size is."""
    kwargs = dict(job.lr_scheduler_kwargs)
    if "decay_ratio" in kwargs:
        kwargs["num_decay_steps"] = max(1, round(float(kwargs.pop("decay_ratio")) * steps))
    return kwargs


def masked_token_accuracy(pred: EvalPrediction) -> dict[str, float]:
    """Share of masked positions (labels != -100) whose argmax prediction is the original token."""
    predictions, labels = np.asarray(pred.predictions), np.asarray(pred.label_ids)
    scored = labels != -100
    return {"accuracy": float((predictions[scored] == labels[scored]).mean()) if scored.any() else math.nan}


def argmax_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Keep only argmax ids during evaluation: full logits of every batch would not fit in memory."""
    return logits.argmax(dim=-1)


def load_model(job: PretrainJob, settings: DeviceSettings) -> PreTrainedModel:
    """The model the stage continues from: the previous stage's final weights, a pretrained arm's
    hub model, or (no `init_model`: the first stage of an arm trained from scratch) the arm's random
    weights for the replicate seed, drawn here from its model config."""
    if not job.paths.init_model:
        config_dir = Path(job.paths.model_config).parent
        log.info("random initial weights from %s, seed %d", job.paths.model_config, job.seed)
        model = random_model(config_dir, job.family, job.seed, attn_implementation=settings.attn_implementation)
        return use_objective(model, job.objective)
    set_seed(job.seed)
    log.info("continuing from %s", job.paths.init_model)
    model = model_class(job.family).from_pretrained(
        job.paths.init_model, attn_implementation=settings.attn_implementation
    )
    return use_objective(model, job.objective)


def use_objective(model: PreTrainedModel, objective: str) -> PreTrainedModel:
    """Give a loaded model of either family the attention and the loss of `objective`.

    MLM predicts each masked token at its own position from bidirectional states, CLM the next
    token from causal states (the loss shifts the labels). A decoder gets `config.is_causal` (saved
    with it, so a bidirectional one reloads bidirectional); a ModernBERT made causal gets
    `causal_modernbert`, which is not saved. The loss is transformers' own for the objective
    (`loss_type`). Only what differs from the loaded model changes: a family's own objective leaves
    it, and its saved config, as they were.
    """
    if model.config.model_type == "modernbert":
        if objective == "clm":
            causal_modernbert(model)
            # A sparse MLM head scores only the labelled positions; a shifted loss needs every logit.
            model.sparse_prediction = False
    elif getattr(model.config, "is_causal", True) != (objective == "clm"):
        # Decoders: transformers 5 builds a padding-only mask when config.is_causal is False.
        model.config.is_causal = objective == "clm"
    model.loss_type = LOSS_TYPES[objective]
    return model


def causal_modernbert(model: PreTrainedModel) -> PreTrainedModel:
    """Make a ModernBERT attend causally, in every attention kernel, without changing its code.

    transformers 5.23's ModernBertModel builds bidirectional global and sliding-window masks from
    the 2-D padding mask, unless it is handed the mapping of masks itself. A forward pre-hook hands
    it ModernBERT's own two masks intersected with the causal mask (transformers' mask builders:
    the window then covers the `sliding_window` tokens before a position, as Ettin's encoder-to-
    decoder runs do with FlashAttention's window and `causal=True`), and every attention module gets
    `is_causal = True` for the kernels that take no mask (SDPA and FlashAttention without padding).
    Hooks are not saved: the saved model reloads bidirectional (what embedding training uses), and
    whatever scores the causal model again calls this on the reload (twinarch.ladder.losses).
    """
    base = model.base_model
    if all(layer.attn.is_causal for layer in base.layers):
        return model
    for layer in base.layers:
        layer.attn.is_causal = True
    base.register_forward_pre_hook(_causal_masks, with_kwargs=True)
    return model


def _causal_masks(module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """ModernBertModel's masks by layer type, each made causal (the pre-hook of `causal_modernbert`)."""
    if isinstance(kwargs.get("attention_mask"), dict):
        return args, kwargs
    ids = kwargs.get("input_ids")
    reference = ids if ids is not None else kwargs["inputs_embeds"]
    # The mask builders read only the batch size, length, dtype and device of the embeddings.
    dtype = module.get_input_embeddings().weight.dtype
    shape = torch.empty(*reference.shape[:2], 0, dtype=dtype, device=reference.device)
    masks = {
        "config": module.config,
        "inputs_embeds": shape,
        "attention_mask": kwargs.get("attention_mask"),
        "and_mask_function": causal_mask_function,
    }
    kwargs["attention_mask"] = {
        "full_attention": create_bidirectional_mask(**masks),
        "sliding_attention": create_bidirectional_sliding_window_mask(**masks),
    }
    return args, kwargs


def eval_rows(trainer: Trainer, budget: TokenBudget) -> list[dict[str, Any]]:
    """metrics.jsonl: one row per evaluation, from the Trainer's own history (which checkpoints carry,
    so a resumed run keeps the evaluations made before the interruption)."""
    rows, train_loss = [], None
    for entry in trainer.state.log_history:
        if "loss" in entry:
            train_loss = entry["loss"]
        if "eval_loss" in entry:
            row = {
                "step": entry["step"],
                "tokens": entry["step"] * budget.tokens_per_step,
                "train_loss": train_loss,
                "eval_loss": entry["eval_loss"],
                "eval_perplexity": math.exp(min(entry["eval_loss"], 50.0)),
            }
            if "eval_accuracy" in entry:
                row["eval_accuracy"] = entry["eval_accuracy"]
            rows.append(row)
    return rows


def check_inputs(job: PretrainJob, tokenizer: Any) -> ShardSet:
    """Refuse shards, tokenizer and model that do not belong together, before any training."""
    tok_manifest = read_json(Path(job.paths.tokenizer_dir) / TOKENIZER_MANIFEST_NAME)
    model_config = AutoConfig.from_pretrained(job.paths.init_model or str(Path(job.paths.model_config).parent))
    shards = ShardSet.load(job.paths.shards_manifest)
    shards.check(
        seq_len=job.stage.seq_len,
        tokenizer_hash=str(tok_manifest.get("tokenizer_hash")),
        vocab_size=int(tok_manifest.get("vocab_size", len(tokenizer))),
        model_vocab_size=model_config.vocab_size,
    )
    if job.stage.seq_len > model_config.max_position_embeddings:
        raise DataError(
            f"{job.paths.model_config}: max_position_embeddings {model_config.max_position_embeddings} is "
            f"below stage '{job.stage.name}' seq_len {job.stage.seq_len}; raise models.max_position_embeddings"
        )
    return shards


@dataclass
class PretrainRun:
    """A Trainer ready to train one (arm, stage), with what the outputs record about it."""

    job: PretrainJob
    trainer: Trainer
    budget: TokenBudget
    order: np.ndarray
    shards: ShardSet
    settings: DeviceSettings


def build_run(spec: Mapping[str, Any]) -> PretrainRun:
    """Check the inputs, plan the budget and the shared token order, and build the Trainer."""
    job = PretrainJob.from_spec(spec)
    job.pretrain.optimizer.check_installed()
    tokenizer = AutoTokenizer.from_pretrained(job.paths.tokenizer_dir)
    shards = check_inputs(job, tokenizer)
    settings = resolve_device_settings(job.device)
    use_threads(settings, job.threads)
    # Built once with a provisional step count to learn the world size, which the budget needs.
    args = build_training_arguments(job, settings, steps=1)
    blocks_per_step = job.stage.per_device_batch_size * job.stage.gradient_accumulation_steps * args.world_size
    budget = TokenBudget.plan(job.stage.token_budget, job.token_budget_scale, job.stage.seq_len, blocks_per_step)
    args = build_training_arguments(job, settings, steps=budget.steps)
    where = f"{shards.manifest_path} (stage '{job.stage.name}', arm '{job.arm}')"
    order = training_order(job.seed, shards.train_blocks, budget.blocks, job.stage.loop_epochs, where)
    log.info(
        "%s/%s: %s objective, %d steps x %d tokens = %s tokens (%.2f passes over %d blocks), %d process(es), %s",
        job.arm,
        job.stage.name,
        job.objective,
        budget.steps,
        budget.tokens_per_step,
        f"{budget.steps * budget.tokens_per_step:,}",
        budget.blocks / shards.train_blocks,
        shards.train_blocks,
        args.world_size,
        settings.as_dict(),
    )

    p = job.pretrain
    masking = (p.mlm_probability, p.mask_replace_prob, p.random_replace_prob)
    collator = StreamSeededCollator(language_model_collator(tokenizer, job.objective, *masking), job.seed)
    validation = fixed_validation_set(PackedBlocks([shards.validation.path]), collator, p.eval_max_blocks)
    model = load_model(job, settings)

    mlm = job.objective == "mlm"
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=PackedBlocks([s.path for s in shards.train], order),
        eval_dataset=validation,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=masked_token_accuracy if mlm else None,
        preprocess_logits_for_metrics=argmax_logits if mlm else None,
        callbacks=training_callbacks(f"pretrain {job.arm}/{job.stage.name}", budget.tokens_per_step),
    )
    return PretrainRun(job, trainer, budget, order, shards, settings)


def main(spec: dict[str, Any]) -> dict[str, Any] | None:
    """Run one (arm, stage), resuming from the newest checkpoint of this very run; returns the
    manifest on the main process."""
    started = time.perf_counter()
    disable_progress_bar()  # the progress callback logs instead
    run = build_run(spec)
    fragment = training_fragment(spec, run.shards)
    _, resumed = train_resumably(run.trainer, run.job.paths.work_dir, fragment, run_inputs(run.job))
    final_dir = Path(run.job.paths.work_dir) / "final"
    with writing(final_dir, "final model"):
        run.trainer.save_model(str(final_dir))
    if not run.trainer.is_world_process_zero():
        return None
    return write_outputs(run, fragment, resumed, final_dir, time.perf_counter() - started)


def write_outputs(
    run: PretrainRun, fragment: Mapping[str, Any], resumed: str | None, final_dir: Path, wall_time: float
) -> dict[str, Any]:
    """The declared outputs, each written atomically: model directory, metrics.jsonl, manifest."""
    job, trainer, budget, shards = run.job, run.trainer, run.budget, run.shards
    rows = eval_rows(trainer, budget)
    with atomic_dir(job.paths.output_model) as tmp:
        shutil.copytree(final_dir, tmp, dirs_exist_ok=True)
    atomic_write_jsonl(job.paths.output_metrics, rows)
    manifest = {
        "arm": job.arm,
        "stage": job.stage.name,
        "family": job.family,
        "objective": job.objective,
        "init": job.paths.init_model or f"random (seed {job.seed})",
        "tokens_seen": trainer.state.global_step * budget.tokens_per_step,
        "token_budget": budget.tokens,
        "steps": trainer.state.global_step,
        "tokens_per_step": budget.tokens_per_step,
        "passes_over_shards": budget.blocks / shards.train_blocks,
        "token_stream_sha256": token_stream_sha256(run.order, shards),
        **run_outcome(trainer, rows, resumed, wall_time, run.settings),
        "provenance": provenance(fragment),
    }
    atomic_write_json(job.paths.output_manifest, manifest)
    log_done(f"{job.arm}/{job.stage.name}", manifest)
    return manifest


if __name__ == "__main__":
    cli(main)
