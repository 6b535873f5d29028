"""Starting a training module with one process per GPU that the job holds.

Training modules (`twinarch.pretrain.run`, `twinarch.embed.run`) expose `main(spec: dict)` and
`python -m <module> SPEC.json`. With one process (CPU, or a single GPU) the module runs in the
calling process; with several, torchrun starts them (and `srun` spreads torchrun over nodes), so the
transformers Trainer sees a normal distributed environment. No distributed code is written by hand.

Stopping early is part of the contract. Before its time limit (sbatch `--signal=TERM@600`) or on
preemption SLURM sends SIGTERM to every process of the job step (it tracks them in a cgroup, so
torchrun and its workers get it too, whatever their session); the training processes save a
checkpoint under `work/` and exit, and the resubmitted job resumes from it. This process must stay
alive until they have finished saving, because SLURM kills whatever is left of a step once its main
process exits: so while torchrun runs, SIGTERM, SIGINT, SIGHUP and SIGUSR1 are caught and this
process waits for torchrun to exit.

Each signal must reach torchrun exactly once: a second SIGTERM while torchrun is shutting its workers
down makes it exit at once, before they have saved (its shutdown raises on the new signal), and the
workers are left running. Inside a SLURM step (`SLURM_STEP_ID` set) SLURM has delivered the signal
to torchrun itself, so this process does not forward it. Elsewhere (a terminal's Ctrl-C, a `kill`
of this process) torchrun runs in a session of its own, so a signal to the terminal's process group
does not reach it directly, and this process forwards it once.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from twinarch.core.logs import setup_logging
from twinarch.core.resources import num_nodes, processes_per_node

log = logging.getLogger(__name__)

# Signals that mean "save and stop": SLURM's pre-timeout/preemption signal (TERM, or USR1 when a
# cluster asks for it), Ctrl-C, and a lost terminal. torchrun relays each of them to its workers.
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
# How long torchrun lets its workers finish a checkpoint after a signal before it kills them;
# below the 600 s warning the paper profile asks SLURM for.
SHUTDOWN_TIMEOUT_S = 540
RDZV_PORT_BASE = 29500


class TrainingInterrupted(RuntimeError):
    """Training stopped on a signal; its checkpoint under work/ lets a resubmitted job resume."""


def torchrun_command(
    module: str,
    spec_path: Path,
    nproc_per_node: int,
    nnodes: int = 1,
    shutdown_timeout: int = SHUTDOWN_TIMEOUT_S,
) -> list[str]:
    """The command line that starts `module` on every process of the job.

    Multi-node jobs run one torchrun per node under `srun` with a c10d rendezvous at the first node
    of the SLURM allocation, the form documented by PyTorch for SLURM clusters. `--overlap` lets
    that step share the resources of the step this process runs in (Snakemake's job step holds
    them all; a step gets all of the job's GPUs on its nodes unless it asks otherwise), and the
    rendezvous port is derived from the job id so that two jobs sharing a node do not collide.
    """
    signals = ",".join(s.name for s in FORWARDED_SIGNALS)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc_per_node}",
        f"--signals-to-handle={signals}",
        f"--shutdown-timeout={shutdown_timeout}",
    ]
    if nnodes > 1:
        head = os.environ.get("TWINARCH_RDZV_HOST") or _slurm_head_node()
        job = os.environ.get("SLURM_JOB_ID", "twinarch")
        port = RDZV_PORT_BASE + int(job) % 10000 if job.isdigit() else RDZV_PORT_BASE
        srun = [
            "srun",
            "--overlap",
            f"--nodes={nnodes}",
            "--ntasks-per-node=1",
            "--kill-on-bad-exit=1",
        ]
        cmd = [
            *srun,
            *cmd,
            f"--nnodes={nnodes}",
            "--rdzv_backend=c10d",
            f"--rdzv_endpoint={head}:{port}",
            f"--rdzv_id={job}",
        ]
    else:
        cmd += ["--standalone"]
    return cmd + ["-m", module, str(spec_path)]


def _slurm_head_node() -> str:
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist:
        raise RuntimeError("a multi-node launch needs SLURM_JOB_NODELIST (run it inside a SLURM job)")
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def inside_slurm_step() -> bool:
    """Whether SLURM delivers this step's signals to every one of its processes itself."""
    return "SLURM_STEP_ID" in os.environ


def run_forwarding_signals(cmd: list[str]) -> None:
    """Run `cmd` and wait for it to exit, making sure FORWARDED_SIGNALS reach it exactly once.

    Raises `TrainingInterrupted` when a signal arrived (even if the child then exited cleanly: its
    outputs are not complete), `subprocess.CalledProcessError` when it failed on its own.
    """
    received: list[int] = []
    forwarding = not inside_slurm_step()
    proc = subprocess.Popen(cmd, start_new_session=forwarding)

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if forwarding:
            log.warning("got %s: forwarding it to pid %d and waiting for it to save and exit", name, proc.pid)
            proc.send_signal(signum)
        else:
            log.warning("got %s: SLURM signals every process of the step; waiting for pid %d to exit", name, proc.pid)

    previous: dict[signal.Signals, Callable[..., Any] | int | None] = {
        sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS
    }
    try:
        returncode = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        names = ", ".join(signal.Signals(s).name for s in received)
        raise TrainingInterrupted(
            f"stopped on {names} (exit code {returncode}); a resubmitted job resumes from the last checkpoint"
        )
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, cmd)


def launch(module: str, spec: dict[str, Any], spec_path: str | Path, nproc_per_node: int = 1, nnodes: int = 1) -> None:
    """Run `module.main(spec)` in-process, or under torchrun when the job has several processes.

    In-process runs handle their own signals (the training callbacks checkpoint on SIGTERM and
    SIGUSR1); under torchrun this process forwards them and waits (`run_forwarding_signals`).
    """
    spec_path = Path(spec_path)
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=2, default=str), encoding="utf-8")
    if nproc_per_node <= 1 and nnodes <= 1:
        importlib.import_module(module).main(spec)
        return
    cmd = torchrun_command(module, spec_path, nproc_per_node, nnodes)
    log.info("launching: %s", shlex.join(cmd))
    run_forwarding_signals(cmd)


def launch_job(module: str, spec: dict[str, Any], work_dir: str | Path, resources: Mapping[str, Any]) -> None:
    """`launch` for a Snakemake job: as many processes as its resources ask for, the spec saved in
    its work directory (beside the checkpoints it describes)."""
    launch(
        module,
        spec,
        Path(work_dir) / "spec.json",
        nproc_per_node=processes_per_node(resources),
        nnodes=num_nodes(resources),
    )


def cli(main: Any, argv: list[str] | None = None) -> None:
    """`python -m twinarch.<module> SPEC.json` entry point shared by the training modules.

    A spec that names the rule's `log_file` (the adapters add it) makes every worker append to that
    log, so what each rank logged, and the error that stopped it, is in the rule's log too.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit(f"usage: python -m <module> SPEC.json (got {argv})")
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if spec.get("log_file"):
        setup_logging(spec["log_file"], append=True)
    main(spec)
