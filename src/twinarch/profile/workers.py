"""Profiling every arm in one job: one worker process per arm, the cells interleaved arm by arm.

Why one job: the state of a machine drifts over minutes (a laptop's clock and thermals, a 2-core
VM's neighbours, a shared GPU node). When each arm had its own job, two decoders of identical shape
measured 79 and 106 samples/s, and Table 2's speedup was noise. Here every cell is measured for
every arm back to back, the arm that goes first rotating from cell to cell, in several rounds over
the whole grid; rows report the median. Drift then hits every arm alike and the ratios hold.

Why processes rather than one process holding every model: an arm's memory must be its own. A
worker's peak resident set (CPU) and CUDA allocator statistics (GPU) belong to its process, exactly
as when the arm ran alone. Only one worker runs at a time; the others wait on their stdin.

Written by hand (no library schedules interleaved measurements across processes): a JSON-lines
protocol over each worker's stdin and stdout, its stderr relayed line by line into this job's log.
Run as `python -m twinarch.profile.workers`, a process is a worker.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from twinarch.profile.config import ProfileSettings

log = logging.getLogger(__name__)

Cell = tuple[str, int, int]  # (mode, seq_len, batch_size)

# glibc's malloc moves its mmap threshold with each process's allocation history, so the same model
# ran at 29 or 60 samples/s in two workers depending on whether its activations were mmap'd afresh
# (page faults every batch) or reused from the heap. Fixed thresholds keep activations in the heap
# for every worker alike, one arena keeps the intra-op threads' allocations there too, and CellMeter
# trims the heap between cells. Measured on the jmini decoder (3 identical workers, 3 runs): spread
# 41-56 samples/s without, 57-62 with. A user's own settings win; other C libraries ignore them.
MALLOC_SETTINGS = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_ARENA_MAX": "1",
}


@dataclass(frozen=True)
class ArmJob:
    """One arm to profile: its config entry, model config folder, tokenizer and output CSV."""

    arm: Mapping[str, Any]
    model_config_dir: str
    tokenizer_dir: str
    out_csv: str

    @property
    def name(self) -> str:
        return str(self.arm["name"])


def grid(settings: ProfileSettings) -> list[Cell]:
    """Every cell, batch sizes from small to large within a (mode, length): an arm that ran out of
    memory at one batch size skips the larger ones."""
    return [(m, s, b) for m in settings.modes for s in settings.seq_lens for b in settings.batch_sizes]


def schedule(arms: Sequence[str], cells: Sequence[Cell], rounds: int) -> Iterator[tuple[int, Cell, str]]:
    """(round, cell, arm) in measuring order: round by round over the grid, within a cell every arm
    back to back, the first arm rotating with each cell so none always runs first after a switch.
    """
    arms = list(arms)
    turn = 0
    for round_index in range(rounds):
        for cell in cells:
            shift = turn % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                yield round_index, cell, arm
            turn += 1


# ----------------------------------------------------------------------------- the coordinating job


class Worker:
    """A worker process holding one arm's model; `request` sends one message and waits for its reply."""

    def __init__(self, job: ArmJob, common: Mapping[str, Any]) -> None:
        self.name = job.name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twinarch.profile.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**MALLOC_SETTINGS, **os.environ},
        )
        self._relay = threading.Thread(target=relay_lines, args=(self.proc.stderr, self.name), daemon=True)
        self._relay.start()
        self.send({"op": "start", "job": job.__dict__, **common})

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self._relay.join(timeout=10)
            raise RuntimeError(f"profiling arm '{self.name}': the worker exited with status {code} (see the log)")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"profiling arm '{self.name}': {answer['error']}")
        return answer

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.reply()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close stdin (the worker's cue to exit); a worker that does not exit is killed."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._relay.join(timeout=10)


def relay_lines(stream: IO[str], arm: str) -> None:
    for line in stream:
        log.info("%s | %s", arm, line.rstrip())


def profile_arms(
    jobs: Sequence[ArmJob],
    *,
    profile_section: Mapping[str, Any],
    device_section: Mapping[str, Any],
    data_root: str,
    normalize: bool,
    seed: int,
    threads: int,
) -> None:
    """Profile every arm in `jobs`, interleaved, over `profile.rounds` rounds; write each arm's CSV.

    The texts are read once here, so every arm is measured on the same inputs.
    """
    settings = ProfileSettings.from_section(profile_section, data_root)
    source_texts = settings.texts.texts(seed)
    common = {
        "profile": dict(profile_section),
        "device": dict(device_section),
        "data_root": data_root,
        "normalize": normalize,
        "seed": seed,
        "threads": threads,
        "texts": list(source_texts),
    }
    cells = grid(settings)
    log.info(
        "profiling %d arms interleaved: %d cells x %d rounds, %d threads, %d source texts",
        len(jobs),
        len(cells),
        settings.rounds,
        threads,
        len(source_texts),
    )
    with ExitStack() as stack:
        # Started together (model building overlaps), then each must say it is ready.
        workers = {job.name: stack.enter_context(Worker(job, common)) for job in jobs}
        for worker in workers.values():
            worker.reply()
        for round_index, cell, arm in schedule(list(workers), cells, settings.rounds):
            row = workers[arm].request({"op": "measure", "cell": list(cell)})["row"]
            log.info("round %d/%d %s", round_index + 1, settings.rounds, describe_measurement(arm, row))
        for job in jobs:
            workers[job.name].request({"op": "write", "out_csv": job.out_csv})


def describe_measurement(arm: str, row: Mapping[str, Any]) -> str:
    cell = f"{row['mode']} len {row['seq_len']} batch {row['batch_size']} {arm}"
    if row["status"] != "ok":
        return f"{cell}: out of memory"
    return f"{cell}: {row['samples_per_s']:.1f} samples/s (median so far), {row['peak_memory_mb']:.0f} MB"


# ----------------------------------------------------------------------------- a worker


class WorkerState:
    """What a worker holds between messages: the arm's profiler and what its CSV records."""

    def __init__(self, message: Mapping[str, Any]) -> None:
        # Heavy imports here, not at module level: the coordinating job never needs torch.
        import torch

        from twinarch.core.config import Arm
        from twinarch.core.device import resolve_device_settings
        from twinarch.profile.measure import ArmProfiler, build_random_model

        torch.set_num_threads(message["threads"])
        job = message["job"]
        settings = ProfileSettings.from_section(message["profile"], message["data_root"])
        self.arm = Arm.from_dict(job["arm"])
        self.device = resolve_device_settings(message["device"])
        self.fragment = {
            "arm": job["arm"],
            "profile": message["profile"],
            "device": message["device"],
            "seed": message["seed"],
        }
        model = build_random_model(
            job["model_config_dir"],
            job["tokenizer_dir"],
            self.arm,
            self.device,
            max_seq_length=max(settings.seq_lens),
            normalize=message["normalize"],
            seed=message["seed"],
        )
        self.profiler = ArmProfiler(model, settings, message["texts"])

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        from twinarch.profile.measure import write_profile

        if message["op"] == "measure":
            return {"ok": True, "row": self.profiler.measure(*message["cell"])}
        if message["op"] == "write":
            write_profile(self.profiler, self.arm, self.device, self.fragment, message["out_csv"])
            return {"ok": True}
        raise ValueError(f"unknown request {message['op']!r}")


def serve(requests: IO[str], replies: IO[str]) -> int:
    """Answer requests until stdin closes; the first error is replied and ends the worker."""
    state: WorkerState | None = None
    for line in requests:
        message = json.loads(line)
        try:
            if message["op"] == "start":
                state = WorkerState(message)
                answer: dict[str, Any] = {"ok": True}
            elif state is None:
                raise RuntimeError("a request before 'start'")
            else:
                answer = state.handle(message)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the coordinator, named
            log.exception("request %s failed", message.get("op"))
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(answer) + "\n")
        replies.flush()
        if not answer["ok"]:
            return 1
    return 0


def main() -> int:
    # Replies go to the real stdout; anything a library prints lands on stderr (relayed to the log).
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)
    return serve(sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(main())
