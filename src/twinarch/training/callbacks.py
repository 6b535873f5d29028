"""Trainer callbacks every training stage shares (pretraining, and embedding training through the
sentence-transformers trainer, which subclasses the transformers Trainer).

They only use the public `TrainerCallback` hooks and `TrainerState`, so they work with any Trainer
subclass. What no library does, and these add: progress lines with tokens/s and an ETA in the rule's
log, a hard stop on a non-finite loss before a checkpoint could record it, and a checkpoint-then-exit
on SIGTERM/SIGUSR1 so that a job a cluster pre-empts resumes where it stopped.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from twinarch.training.workdir import last_complete_checkpoint

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; the message names the step and the last good checkpoint."""


class ProgressLogCallback(TrainerCallback):
    """One log line per logging step: step, loss, throughput (tokens/s when the caller knows the
    tokens per optimizer step, else steps/s) and the ETA of the remaining steps."""

    def __init__(self, tokens_per_step: int | None = None, name: str = "training") -> None:
        self.tokens_per_step = tokens_per_step
        self.name = name
        self._start_time = 0.0
        self._start_step = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self._start_time = time.perf_counter()
        self._start_step = state.global_step
        if state.is_world_process_zero:
            log.info("%s: starting at step %d of %d", self.name, state.global_step, state.max_steps)

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        done = state.global_step - self._start_step
        elapsed = time.perf_counter() - self._start_time
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (state.max_steps - state.global_step) / rate if rate > 0 else math.inf
        if self.tokens_per_step:
            throughput = f"{rate * self.tokens_per_step:,.0f} tokens/s"
        else:
            throughput = f"{rate:.2f} steps/s"
        metrics = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch")
        log.info(
            "%s: step %d/%d %s %s ETA %s",
            self.name,
            state.global_step,
            state.max_steps,
            metrics,
            throughput,
            _format_seconds(eta),
        )


def _format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


class NonFiniteLossCallback(TrainerCallback):
    """Stop training with a clear error at the first NaN/inf training or evaluation loss.

    The Trainer saves checkpoints right after logging, so this callback forces a log at every save
    step: a checkpoint is only ever written after its loss was seen to be finite, and the newest
    checkpoint on disk stays the last good one. The Trainer must run with
    `logging_nan_inf_filter=False`, or it hides NaN losses from the logs.
    """

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if args.logging_nan_inf_filter:
            raise ValueError("NonFiniteLossCallback needs TrainingArguments(logging_nan_inf_filter=False)")

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if control.should_save:
            control.should_log = True

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kw: Any
    ) -> None:
        for key in ("loss", "eval_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                raise NonFiniteLossError(
                    f"non-finite {key} ({value}) at step {state.global_step}; nothing after the last good "
                    f"checkpoint was saved ({_last_checkpoint(args)}). Lower the learning rate, "
                    "clip gradients harder or check the data, then rerun: it resumes from that checkpoint."
                )

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict | None = None,
        **kw: Any,
    ) -> None:
        self.on_log(args, state, control, logs=metrics)


def log_progress_only(trainer: Any) -> Any:
    """Drop the Trainer's console progress bar and printed dicts: the rule's log gets the same
    figures from ProgressLogCallback, and a workflow's console stays readable."""
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    return trainer


def _last_checkpoint(args: TrainingArguments) -> str:
    return last_complete_checkpoint(args.output_dir) or "none yet"


class PreemptionCheckpointCallback(TrainerCallback):
    """On SIGTERM or SIGUSR1 (SLURM's pre-emption and time-limit warnings), finish the current
    optimizer step, save a checkpoint and exit with 128 + the signal number, so that the workflow
    marks the job failed and a resubmitted job resumes from that checkpoint.

    Handlers are installed for the duration of training only and the previous ones restored after.
    Under torchrun every rank receives the signal (torchrun forwards it), so all ranks save together.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        log.warning(
            "received %s: saving a checkpoint at the end of this step, then exiting", signal.Signals(signum).name
        )
        self.received = signum

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.received is not None:
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.received is not None:
            self._restore()
            log.warning(
                "checkpoint saved at step %d after a signal; exiting so that a rerun resumes", state.global_step
            )
            raise SystemExit(128 + self.received)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
