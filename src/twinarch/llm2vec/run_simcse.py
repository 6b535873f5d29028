"""One unsupervised SimCSE step of one arm (`python -m twinarch.llm2vec.run_simcse SPEC.json`).

The previous step's network becomes a SentenceTransformer with the arm's pooling
(twinarch.embed.model.build_embedding_model, which keeps a decoder bidirectional and probes it),
gets LLM2Vec's attention dropout, and trains with the embed stage's trainer: sentence-transformers'
SentenceTransformerTrainer with CachedMultipleNegativesRankingLoss (scale 1 / temperature, in-batch
negatives) on rows whose anchor and positive are the same sentence. Each column is embedded in its
own forward pass, so the two views get different dropout masks; GradCache's second pass replays
the first pass's random state (sentence-transformers' RandContext), so the cached gradients are the
ones of those very masks. The step saves the underlying Hugging Face network (dropout back to 0,
still bidirectional), which the embed stage's `base` step wraps like any pretrained model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.config import Arm
from twinarch.core.device import resolve_device_settings
from twinarch.core.io import atomic_dir, atomic_write_json
from twinarch.core.launch import cli
from twinarch.core.provenance import provenance
from twinarch.data.sources import corpus_input_files
from twinarch.embed.model import build_embedding_model
from twinarch.embed.run import build_trainer
from twinarch.llm2vec.config import SimcseStep, training_mode
from twinarch.llm2vec.lora import add_sentence_adapters, merge_adapters
from twinarch.llm2vec.simcse import corpus_sentences, set_attention_dropout
from twinarch.training.run import train_resumably, use_threads

log = logging.getLogger(__name__)


def sentence_pairs(sentences: list[str]) -> Any:
    """SimCSE's rows: every sentence as its own positive."""
    from datasets import Dataset

    return Dataset.from_dict({"anchor": sentences, "positive": sentences})


def save_network(model: Any, out_dir: str | Path) -> Path:
    """The trained network as a plain Hugging Face model directory (any adapters merged, attention
    dropout reset to 0, `is_causal` False) with its tokenizer."""
    network = merge_adapters(model[0].auto_model)
    set_attention_dropout(network, 0.0)
    network.config.is_causal = False
    with atomic_dir(out_dir) as tmp:
        network.save_pretrained(str(tmp))
        model[0].tokenizer.save_pretrained(str(tmp))
    return Path(out_dir)


def main(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Run one (arm, SimCSE step), resuming from this run's newest checkpoint; the main process
    writes the model and the manifest.

    Spec keys: arm, step, seed, device (the job's param), operational, threads, corpora (resolved
    `config.corpora` entries), init_model, work_dir, out_model, out_manifest.
    """
    from transformers import set_seed

    started = time.time()
    arm = Arm.from_dict(spec["arm"])
    step = SimcseStep.from_dict({**spec["step"], **spec.get("operational", {})})
    seed = int(spec["seed"])
    set_seed(seed)
    settings = resolve_device_settings(spec.get("device"))
    use_threads(settings, spec.get("threads"))
    model = build_embedding_model(
        spec["init_model"],
        arm,
        max_seq_length=step.max_seq_length,
        normalize=False,
        attn_implementation=settings.attn_implementation,
    )
    set_attention_dropout(model[0].auto_model, step.attention_dropout)
    if step.lora:
        add_sentence_adapters(model, step.lora, step.gradient_checkpointing)
    sentences = corpus_sentences(spec["corpora"], step.max_sentences, step.min_chars, seed)
    stage = step.embed_stage()
    trainer = build_trainer(
        model, sentence_pairs(sentences), stage, spec["work_dir"], seed, settings, name=f"simcse {arm.name}/{step.name}"
    )
    fragment = {k: spec[k] for k in ("arm", "step", "seed", "device", "corpora")}
    inputs = {"init_model": spec["init_model"], **{f"corpus {p}": p for p in corpus_input_files(spec["corpora"])}}
    result, resumed = train_resumably(trainer, spec["work_dir"], fragment, inputs)
    if not trainer.is_world_process_zero():
        return None
    save_network(model, spec["out_model"])
    manifest = {
        "arm": arm.name,
        "step": step.name,
        "kind": step.kind,
        "init_model": spec["init_model"],
        "bidirectional": True,
        "pooling": arm.pooling,
        "sentences": len(sentences),
        "attention_dropout": step.attention_dropout,
        "loss_scale": stage.loss_scale,
        "training": training_mode(step.lora),
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": result.training_loss,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "effective_batch_size": step.per_device_batch_size * step.gradient_accumulation_steps * trainer.args.world_size,
        "resumed_from": resumed,
        "wall_time_s": round(time.time() - started, 3),
        "device": settings.as_dict(),
        "provenance": provenance(fragment),
    }
    atomic_write_json(spec["out_manifest"], manifest)
    return manifest


if __name__ == "__main__":
    cli(main)
