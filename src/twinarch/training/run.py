"""What every trainer of the study shares around the Trainer it builds: CPU threads, the callbacks,
and resuming only a run's own checkpoints.

Pretraining (`twinarch.pretrain.run`), contrastive training (`twinarch.embed.run`) and every later
training step build their own `Trainer` (transformers' or sentence-transformers') and hand it to
`train_resumably`; nothing else about resuming is written twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import torch

from twinarch.core.device import DeviceSettings
from twinarch.core.io import writing
from twinarch.training.callbacks import (
    NonFiniteLossCallback,
    PreemptionCheckpointCallback,
    ProgressLogCallback,
    log_progress_only,
)
from twinarch.training.workdir import prepare_work_dir, run_fingerprint

log = logging.getLogger(__name__)


def use_threads(settings: DeviceSettings, threads: int | None) -> None:
    """On a CPU, the job's share of the cores (Snakemake `threads`): more intra-op threads than
    cores slows every process on the machine down several-fold."""
    if settings.device == "cpu" and threads:
        torch.set_num_threads(int(threads))


def training_callbacks(name: str, tokens_per_step: int | None = None) -> list[Any]:
    """Progress lines in the rule's log, a stop on a non-finite loss, checkpoint-then-exit on
    SIGTERM/SIGUSR1: the callbacks every training step runs with."""
    return [ProgressLogCallback(tokens_per_step, name=name), NonFiniteLossCallback(), PreemptionCheckpointCallback()]


def run_outcome(
    trainer: Any, rows: list[dict[str, Any]], resumed: str | None, wall_time: float, settings: DeviceSettings
) -> dict[str, Any]:
    """The manifest fields every trainer reports about how its run went: last train and validation
    losses, wall time, the checkpoint it resumed from, processes and device."""
    train_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {
        "final_train_loss": train_losses[-1] if train_losses else None,
        "final_val_loss": rows[-1]["eval_loss"] if rows else None,
        "final_val_metrics": rows[-1] if rows else None,
        "wall_time_s": round(wall_time, 2),
        "resumed_from": resumed,
        "num_processes": trainer.args.world_size,
        "device": settings.as_dict(),
    }


def log_done(name: str, manifest: Mapping[str, Any]) -> None:
    """One summary line in the rule's log when a training step has written its outputs."""
    keys = ("steps", "tokens_seen", "final_train_loss", "final_val_loss", "wall_time_s")
    log.info("%s done: %s", name, json.dumps({k: manifest[k] for k in keys}))


def train_resumably(
    trainer: Any, work_dir: str, fragment: Any, inputs: Mapping[str, str | None]
) -> tuple[Any, str | None]:
    """Train, resuming from the work directory's newest complete checkpoint only if it belongs to
    this run (same config fragment, same input contents); returns the Trainer's result and the
    checkpoint it resumed from."""
    log_progress_only(trainer)
    with writing(work_dir, "work directory"):
        resume = prepare_work_dir(work_dir, run_fingerprint(fragment, inputs), trainer.args)
    with writing(work_dir, "checkpoints"):
        return trainer.train(resume_from_checkpoint=resume), resume
