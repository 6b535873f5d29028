"""Throughput and memory of each arm's embedding model over a grid of sequence lengths and batch sizes.

Throughput does not depend on the weights, so the sweep runs on a random-init model built from the
arm's Hugging Face config (results/models/{arm}/config.json) with the arm's bidirectional switch and
pooling, exactly as at inference. Two timings per cell:

- `forward`: the model alone (transformer and pooling) on inputs already tokenised and on the device;
- `encode`: end to end from strings (tokenisation, padding, host-to-device copy, forward, copy back),
  what the paper timed with sentence-transformers' `encode`. Table 2 and Figures 3-4 say which.

Every input is exactly `seq_len` tokens long. On a GPU cells are timed with CUDA events and memory is
`torch.cuda.max_memory_allocated` (and reserved), reset per cell; on a CPU (where `torch.cuda.*`
raises) cells are timed with the wall clock and memory is the model's bytes plus the growth of the
resident set during the cell (see `CellMeter`).

`ArmProfiler` holds one arm's model and measures one round of one cell at a time; the order of
cells, rounds and arms is twinarch.profile.workers' business.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoConfig, AutoModel, AutoTokenizer

from twinarch.core import hub
from twinarch.core.config import Arm, ConfigError
from twinarch.core.device import DeviceSettings
from twinarch.core.io import DataError, atomic_path
from twinarch.core.provenance import config_hash, device_description, git_commit, library_versions
from twinarch.embed.model import build_embedding_model
from twinarch.profile.config import MODES, PROFILE_COLUMNS, ProfileSettings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Extra tokens kept beyond seq_len when cutting a text, so that re-tokenising the cut string (BPE
# merges can change at the cut) still yields at least seq_len tokens.
CUT_MARGIN_TOKENS = 8
CLEAR_REFS = Path("/proc/self/clear_refs")
PROC_STATUS = Path("/proc/self/status")


# ----------------------------------------------------------------------------- the model


def build_random_model(
    model_config_dir: str | Path,
    tokenizer_dir: str | Path,
    arm: Arm,
    device: DeviceSettings,
    *,
    max_seq_length: int,
    normalize: bool,
    seed: int,
) -> SentenceTransformer:
    """A random-init embedding model of the arm's architecture, on the device in the device's dtype.

    The network is written to a temporary directory and loaded through the embedding stage's own
    `build_embedding_model`, so the profiled model is assembled (switch, pooling, tokenizer) by the
    very code that builds the trained ones.
    """
    config = AutoConfig.from_pretrained(str(model_config_dir))
    torch.manual_seed(seed)
    network = AutoModel.from_config(config, dtype=device.dtype)
    with tempfile.TemporaryDirectory(prefix="twinarch-profile-") as tmp:
        network.save_pretrained(tmp)
        del network
        AutoTokenizer.from_pretrained(hub.resolve(str(tokenizer_dir))).save_pretrained(tmp)
        model = build_embedding_model(
            tmp, arm, max_seq_length=max_seq_length, normalize=normalize, attn_implementation=device.attn_implementation
        )
    return model.to(device=device.device, dtype=device.dtype).eval()


# ----------------------------------------------------------------------------- inputs


def fixed_length_texts(tokenizer: Any, source_texts: Sequence[str], seq_len: int, count: int) -> list[str]:
    """`count` strings that each tokenise (with truncation at `seq_len`) to exactly `seq_len` tokens.

    Real text, not random ids: source texts are concatenated (cycling when there are too few) until
    long enough, then cut a few tokens past `seq_len` so tokenisation cost stays that of `seq_len`.
    """
    if not source_texts:
        raise DataError("no source texts to build profiling inputs from")
    out: list[str] = []
    cursor = 0
    for _ in range(count):
        pieces: list[str] = []
        n_tokens = 0
        while n_tokens < seq_len + CUT_MARGIN_TOKENS:
            text = source_texts[cursor % len(source_texts)]
            cursor += 1
            pieces.append(text)
            n_tokens += len(tokenizer(text, add_special_tokens=False)["input_ids"])
            if cursor > 100 * (count + len(source_texts)):
                raise DataError(f"the profiling texts tokenise to too few tokens to reach {seq_len}")
        joined = "\n".join(pieces)
        offsets = tokenizer(joined, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        out.append(joined[: offsets[min(len(offsets), seq_len + CUT_MARGIN_TOKENS) - 1][1]])
    lengths = {len(ids) for ids in tokenizer(out, truncation=True, max_length=seq_len)["input_ids"]}
    if lengths != {seq_len}:
        raise DataError(f"profiling inputs are {sorted(lengths)} tokens long, not exactly {seq_len}")
    return out


def pad_batch(input_ids: Sequence[Sequence[int]], pad_id: int, padding_side: str) -> dict[str, torch.Tensor]:
    """Pad token id lists to the longest in the batch (numpy: far cheaper than `tokenizer.pad`)."""
    width = max(len(ids) for ids in input_ids)
    ids = np.full((len(input_ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(input_ids), width), dtype=np.int64)
    for row, seq in enumerate(input_ids):
        span = slice(width - len(seq), width) if padding_side == "left" else slice(0, len(seq))
        ids[row, span] = seq
        mask[row, span] = 1
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}


@torch.inference_mode()
def encode_texts(model: SentenceTransformer, texts: Sequence[str], batch_size: int) -> torch.Tensor:
    """Sentence embeddings of `texts` (float32, on the CPU, in input order).

    Same result as `model.encode`, less work: one tokenizer call for all texts, batches sorted by
    exact token length (not characters) so padding is minimal, and one device-to-host copy at the
    end instead of one per batch. Models whose input module unpads for flash-attn keep
    sentence-transformers' own per-batch preprocessing, which has no padding at all.
    """
    tokenizer = model.tokenizer
    unpadded = bool(getattr(model[0], "can_flatten_inputs", False))
    encoded = tokenizer(list(texts), truncation=True, max_length=model.max_seq_length)["input_ids"]
    order = np.argsort([-len(ids) for ids in encoded], kind="stable")
    device = model.device
    chunks = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if unpadded:
            features = model.preprocess([texts[i] for i in idx])
        else:
            features = pad_batch([encoded[i] for i in idx], tokenizer.pad_token_id, tokenizer.padding_side)
        features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        chunks.append(model(features)["sentence_embedding"])
    embeddings = torch.cat(chunks).float().cpu()
    return embeddings[torch.from_numpy(np.argsort(order, kind="stable"))]


# ----------------------------------------------------------------------------- timing and memory


def proc_status_mb(field_name: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM; kB there) in MiB."""
    for line in PROC_STATUS.read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise DataError(f"{PROC_STATUS} has no {field_name} line")


def release_free_heap() -> None:
    """Give glibc's free heap pages back to the OS (malloc_trim), so a cell's peak resident set is
    what that cell needs, not what earlier, larger cells left in the heap. No-op without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class CellMeter:
    """Times iterations and measures the peak memory of one cell on the model's device.

    On a CPU the peak is the model's own bytes plus how far the resident set grew during the cell
    (Linux: the kernel's high-water mark, reset per cell, minus the resident set at the reset). The
    interpreter and the libraries are left out, as `torch.cuda.max_memory_allocated` leaves them
    out on a GPU, so the arms differ by what their architecture needs.
    """

    def __init__(self, device: str, model_mb: float = 0.0) -> None:
        self.cuda = device.startswith("cuda")
        self.model_mb = model_mb
        self._resident_at_reset_mb = 0.0

    @property
    def memory_measure(self) -> str:
        if self.cuda:
            return "cuda_max_allocated"
        return "model_plus_cell_rss_growth" if CLEAR_REFS.exists() else "process_peak_rss"

    def reset_memory(self) -> None:
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        elif CLEAR_REFS.exists():
            release_free_heap()
            # Linux resets the process's peak RSS (VmHWM) to the current RSS when 5 is written to
            # clear_refs; elsewhere only the lifetime peak exists, and `memory_measure` says so.
            CLEAR_REFS.write_text("5")
            self._resident_at_reset_mb = proc_status_mb("VmRSS")

    def peak_memory_mb(self) -> tuple[float, float]:
        """(peak, reserved) in MiB; reserved is the CUDA caching allocator's and NaN on a CPU."""
        if self.cuda:
            return torch.cuda.max_memory_allocated() / 2**20, torch.cuda.max_memory_reserved() / 2**20
        if CLEAR_REFS.exists():
            growth = proc_status_mb("VmHWM") - self._resident_at_reset_mb
            return self.model_mb + max(growth, 0.0), float("nan")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 1024), float("nan")

    def time_ms(self, step: Callable[[], Any]) -> float:
        """Milliseconds of one call; on a GPU between CUDA events after the queue has drained."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            return float(start.elapsed_time(end))
        begin = time.perf_counter()
        step()
        return (time.perf_counter() - begin) * 1000.0

    def release(self) -> None:
        """Hand cached device memory back, so an idle arm's worker does not crowd the measured one."""
        if self.cuda:
            torch.cuda.empty_cache()


def measure_cell(meter: CellMeter, step: Callable[[], Any], warmup_iters: int, timed_iters: int) -> dict[str, Any]:
    """Warm-up calls (not timed), then timed calls; an out-of-memory error is a result, not a crash."""
    meter.reset_memory()
    try:
        for _ in range(warmup_iters):
            step()
        times = [meter.time_ms(step) for _ in range(timed_iters)]
    except torch.OutOfMemoryError:
        # Drop the failed cell's tensors (held by the traceback) before the next cell starts.
        gc.collect()
        meter.reset_memory()
        return {"status": "oom"}
    peak, reserved = meter.peak_memory_mb()
    meter.release()
    return {"status": "ok", "times_ms": times, "peak_memory_mb": peak, "reserved_memory_mb": reserved}


# ----------------------------------------------------------------------------- one arm, round after round


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class CellRounds:
    """What the rounds of one cell measured so far; the row reports their median time, its spread
    and the least peak memory."""

    times_ms: list[float] = field(default_factory=list)
    round_medians_ms: list[float] = field(default_factory=list)
    peak_memory_mb: float = float("nan")
    reserved_memory_mb: float = float("nan")
    rounds: int = 0
    oom: bool = False

    def add(self, result: dict[str, Any]) -> None:
        self.rounds += 1
        if result["status"] == "oom":
            self.oom = True
            return
        self.times_ms += result["times_ms"]
        self.round_medians_ms.append(float(np.median(result["times_ms"])))
        # The least of the rounds' peaks: what the cell needs. Heap fragmentation on a CPU only ever
        # adds to a round's peak; on a GPU the allocator's statistics repeat exactly.
        self.peak_memory_mb = float(np.fmin(self.peak_memory_mb, result["peak_memory_mb"]))
        self.reserved_memory_mb = float(np.fmin(self.reserved_memory_mb, result["reserved_memory_mb"]))

    def row(self, mode: str, seq_len: int, batch_size: int, timed_iters: int) -> dict[str, Any]:
        """A cell is out of memory if any of its rounds was; otherwise the median batch time of every
        timed iteration of every round (robust to the odd slow iteration on a shared machine).
        """
        row: dict[str, Any] = {
            "mode": mode,
            "seq_len": seq_len,
            "batch_size": batch_size,
            "timed_iters": timed_iters,
            "rounds": self.rounds,
            "status": "oom" if self.oom else "ok",
        }
        if self.oom:
            return row
        ms = float(np.median(self.times_ms))
        samples_per_s = batch_size * 1000.0 / ms
        return {
            **row,
            "ms_per_batch": ms,
            "ms_per_batch_std": float(np.std(self.times_ms)),
            "samples_per_s": samples_per_s,
            # The spread of the rounds: throughput of the slowest and the fastest round's median.
            "samples_per_s_low": batch_size * 1000.0 / max(self.round_medians_ms),
            "samples_per_s_high": batch_size * 1000.0 / min(self.round_medians_ms),
            "ms_per_sample": ms / batch_size,
            "tokens_per_s": samples_per_s * seq_len,
            "peak_memory_mb": self.peak_memory_mb,
            "reserved_memory_mb": self.reserved_memory_mb,
        }


class ArmProfiler:
    """One arm's model and every cell it measured, one round of one cell at a time.

    The caller decides the order of cells and rounds (twinarch.profile.workers interleaves the arms),
    so that the arms of a comparison share the machine's state instead of each having its own job.
    """

    def __init__(self, model: SentenceTransformer, settings: ProfileSettings, source_texts: Sequence[str]) -> None:
        self.model = model
        self.settings = settings
        self.source_texts = list(source_texts)
        self.meter = CellMeter(str(model.device), model_mb=model_bytes(model) / 2**20)
        self._texts: dict[int, list[str]] = {}
        self._cells: dict[tuple[str, int, int], CellRounds] = {}

    def measure(self, mode: str, seq_len: int, batch_size: int) -> dict[str, Any]:
        """Run one round of a cell; returns the cell's row over its rounds so far.

        Batch sizes of a (mode, length) run from small to large, so once a smaller batch has run out
        of memory this one is recorded as `oom` without being run (memory only grows with the batch).
        """
        cell = self._cells.setdefault((mode, seq_len, batch_size), CellRounds())
        smaller_oom = any(
            rounds.oom for (m, s, b), rounds in self._cells.items() if (m, s) == (mode, seq_len) and b < batch_size
        )
        if smaller_oom:
            cell.add({"status": "oom"})
        else:
            if seq_len not in self._texts:
                self._texts[seq_len] = fixed_length_texts(
                    self.model.tokenizer, self.source_texts, seq_len, max(self.settings.batch_sizes)
                )
            self.model.max_seq_length = seq_len
            step = make_step(self.model, mode, self._texts[seq_len][:batch_size])
            cell.add(measure_cell(self.meter, step, self.settings.warmup_iters, self.settings.timed_iters))
        return cell.row(mode, seq_len, batch_size, self.settings.timed_iters)

    def rows(self) -> list[dict[str, Any]]:
        return [cell.row(*key, self.settings.timed_iters) for key, cell in self._cells.items()]


def make_step(model: SentenceTransformer, mode: str, batch: list[str]) -> Callable[[], Any]:
    """One timed iteration of `mode` on `batch`."""
    if mode == "encode":
        return lambda: encode_texts(model, batch, batch_size=len(batch))
    if mode != "forward":
        raise ConfigError(f"config key 'profile.modes': unknown mode '{mode}' (known: {MODES})")
    tokenizer = model.tokenizer
    ids = tokenizer(batch, truncation=True, max_length=model.max_seq_length)["input_ids"]
    features = {
        k: v.to(model.device) for k, v in pad_batch(ids, tokenizer.pad_token_id, tokenizer.padding_side).items()
    }

    @torch.inference_mode()
    def forward() -> Any:
        # The Transformer module writes its outputs into the dict it gets: hand it a fresh one.
        return model(dict(features))["sentence_embedding"]

    return forward


def describe_rows(
    rows: list[dict[str, Any]], arm: Arm, device: DeviceSettings, model: SentenceTransformer, fragment: Any
) -> pd.DataFrame:
    """Rows plus what made them: arm, device, dtype, attention kernel, library versions, config hash."""
    versions = library_versions()
    network = model[0].auto_model
    context = {
        "arm": arm.name,
        "family": arm.family,
        "bidirectional": bool(arm.is_encoder or arm.bidirectional),
        "pooling": arm.pooling,
        "parameters": sum(p.numel() for p in network.parameters()),
        "device": device.device,
        "device_name": device_description(),
        "dtype": device.dtype_name,
        "attn_implementation": network.config._attn_implementation,
        "memory_measure": CellMeter(device.device).memory_measure,
        "torch_version": versions.get("torch", ""),
        "transformers_version": versions.get("transformers", ""),
        "sentence_transformers_version": versions.get("sentence-transformers", ""),
        "flash_attn_version": versions.get("flash-attn", ""),
        "torch_threads": torch.get_num_threads(),
        "config_hash": config_hash(fragment),
        "git_commit": git_commit(),
    }
    import pandas as pd  # lazy: the GPU check imports this module on a machine without pandas

    return pd.DataFrame([{**context, **row} for row in rows]).reindex(columns=list(PROFILE_COLUMNS))


def write_profile(profiler: ArmProfiler, arm: Arm, device: DeviceSettings, fragment: Any, out_csv: str | Path) -> None:
    """The arm's rows with their provenance, to `out_csv` atomically."""
    frame = describe_rows(profiler.rows(), arm, device, profiler.model, fragment)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
