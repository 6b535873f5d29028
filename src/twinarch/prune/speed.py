"""Encode throughput of every arm's unpruned and pruned models, timed like any arm of Table 2.

Each model is loaded from its directory (a pruned model's speed is its architecture's: it is timed
right after dropping, before recovery training changes its weights but not its shape) and measured
by `twinarch.profile.measure.ArmProfiler` on one cell, end to end from strings (`encode`), with the
profile section's iterations, rounds and texts (the cell is Table 2's unless the prune section names
another: `twinarch.prune.rules.PruneRules.throughput`). The models are measured
back to back, round after round with the first one rotating (`twinarch.profile.workers.schedule`),
so the machine's drift hits every model alike and the ratios hold.

All models sit in one process: only their throughput is reported, and a process's timing does not
depend on what else it holds (memory would, which is why Table 2 gives each arm a worker process).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from twinarch.core.config import Arm
from twinarch.core.device import resolve_device_settings
from twinarch.core.io import atomic_path
from twinarch.profile.config import ProfileSettings
from twinarch.profile.measure import ArmProfiler, describe_rows
from twinarch.profile.workers import schedule
from twinarch.prune.model import load_pruned_model, non_embedding_parameters
from twinarch.training.run import use_threads

log = logging.getLogger(__name__)

MODE = "encode"


@dataclass(frozen=True)
class SpeedJob:
    """One model to time: its arm's config entry, how many MLPs it lacks, its directory."""

    arm: Mapping[str, Any]
    k: int
    model_dir: str

    @property
    def key(self) -> str:
        return f"{self.arm['name']}/drop{self.k}"


def cell_settings(profile_section: Mapping[str, Any], data_root: str, seq_len: int, batch_size: int) -> ProfileSettings:
    """The profile section's measurement settings narrowed to one encode cell."""
    settings = ProfileSettings.from_section(profile_section, data_root)
    return dataclasses.replace(settings, seq_lens=(seq_len,), batch_sizes=(batch_size,), modes=(MODE,))


def measure_speeds(
    jobs: Sequence[SpeedJob],
    *,
    profile_section: Mapping[str, Any],
    device_section: Mapping[str, Any],
    data_root: str,
    seed: int,
    threads: int,
    seq_len: int,
    batch_size: int,
    out_csv: str | Path,
    fragment: Any,
) -> pd.DataFrame:
    """Time every job's model on the same texts, interleaved; one row per model to `out_csv`."""
    settings = cell_settings(profile_section, data_root, seq_len, batch_size)
    device = resolve_device_settings(device_section)
    use_threads(device, threads)
    texts = settings.texts.texts(seed)
    profilers: dict[str, ArmProfiler] = {}
    for job in jobs:
        model = load_pruned_model(job.model_dir, device=device.device, attn_implementation=device.attn_implementation)
        profilers[job.key] = ArmProfiler(model.to(dtype=device.dtype).eval(), settings, texts)
    cell = (MODE, settings.seq_lens[0], settings.batch_sizes[0])
    for round_index, _, key in schedule(list(profilers), [cell], settings.rounds):
        row = profilers[key].measure(*cell)
        log.info("round %d/%d %s: %s samples/s", round_index + 1, settings.rounds, key, row.get("samples_per_s"))
    frames = []
    for job in jobs:
        profiler = profilers[job.key]
        frame = describe_rows(profiler.rows(), Arm.from_dict(job.arm), device, profiler.model, fragment)
        frame.insert(2, "k", job.k)
        frame.insert(3, "non_embedding_params", non_embedding_parameters(profiler.model))
        frame["model_dir"] = job.model_dir
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    return table
