"""Launching training: in-process, torchrun on one node, srun + torchrun over nodes, and the
signal path that lets a job checkpoint before SLURM's time limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twinarch.core.launch import SHUTDOWN_TIMEOUT_S, launch, torchrun_command

REPO = Path(__file__).resolve().parents[2]
FAKE_SLURM = REPO / "tests" / "fake_slurm"


def test_single_node_command_is_standalone_torchrun_that_relays_signals() -> None:
    cmd = torchrun_command("twinarch.pretrain.run", Path("work/spec.json"), nproc_per_node=8)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=8" in cmd and "--standalone" in cmd
    signals = next(a for a in cmd if a.startswith("--signals-to-handle=")).split("=", 1)[1].split(",")
    assert {"SIGTERM", "SIGUSR1", "SIGINT"} <= set(signals)
    assert f"--shutdown-timeout={SHUTDOWN_TIMEOUT_S}" in cmd
    assert SHUTDOWN_TIMEOUT_S < 600, "workers must be done saving before the 600 s warning runs out"
    assert cmd[-3:] == ["-m", "twinarch.pretrain.run", "work/spec.json"]
    assert not any(a.startswith("--rdzv") for a in cmd)


def test_multi_node_command_runs_one_torchrun_per_node_under_srun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    monkeypatch.setenv("SLURM_JOB_ID", "4321")
    monkeypatch.delenv("TWINARCH_RDZV_HOST", raising=False)
    cmd = torchrun_command("twinarch.embed.run", Path("spec.json"), nproc_per_node=8, nnodes=2)
    torchrun = cmd.index(sys.executable)
    srun = cmd[:torchrun]
    assert srun[0] == "srun" and "--nodes=2" in srun and "--ntasks-per-node=1" in srun
    assert "--overlap" in srun, "the nested step must share Snakemake's job step resources"
    rest = cmd[torchrun:]
    assert "--nnodes=2" in rest and "--nproc_per_node=8" in rest and "--standalone" not in rest
    assert "--rdzv_backend=c10d" in rest and "--rdzv_id=4321" in rest
    assert "--rdzv_endpoint=gpu07:33821" in rest, "head node from scontrol, port from the job id"
    assert rest[-3:] == ["-m", "twinarch.embed.run", "spec.json"]


def test_multi_node_outside_slurm_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_JOB_NODELIST", raising=False)
    monkeypatch.delenv("TWINARCH_RDZV_HOST", raising=False)
    with pytest.raises(RuntimeError, match="SLURM_JOB_NODELIST"):
        torchrun_command("m", Path("s.json"), nproc_per_node=2, nnodes=2)


TRAINER = """
import os, signal, time
from pathlib import Path

def main(spec):
    out = Path(spec["out"])
    rank = os.environ.get("RANK", "inproc")
    got = []
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, lambda s, f: got.append(signal.Signals(s).name))
    (out / f"ready_{rank}").write_text(str(os.getpid()))
    if not spec.get("wait"):
        return
    deadline = time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the checkpoint takes a while: the launcher must wait for it
    (out / f"saved_{rank}").write_text(got[0] if got else "none")
    raise SystemExit(1)

if __name__ == "__main__":
    from twinarch.core.launch import cli
    cli(main)
"""


@pytest.fixture()
def trainer_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fake_trainer.py").write_text(textwrap.dedent(TRAINER))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_one_process_runs_in_process(trainer_module: Path) -> None:
    launch("fake_trainer", {"out": str(trainer_module)}, trainer_module / "spec.json", nproc_per_node=1)
    assert (trainer_module / "ready_inproc").read_text() == str(os.getpid())
    assert (trainer_module / "spec.json").is_file()


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGTERM])
def test_signal_to_the_launcher_reaches_every_worker_and_waits_for_their_checkpoint(
    trainer_module: Path, sig: signal.Signals
) -> None:
    """SLURM's warning signal hits the launcher (the step's main process): it must forward it
    through torchrun to both workers and stay alive until they have saved."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(trainer_module), str(REPO / "src")])}
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from twinarch.core.launch import launch\n"
        f"launch('fake_trainer', {{'out': {str(trainer_module)!r}, 'wait': True}}, "
        f"{str(trainer_module / 'spec.json')!r}, nproc_per_node=2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not all((trainer_module / f"ready_{r}").exists() for r in (0, 1)):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "torchrun workers did not start"
        time.sleep(0.1)
    proc.send_signal(sig)  # only to the launcher: forwarding is what is tested
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output
    assert "TrainingInterrupted" in output and sig.name in output
    for rank in (0, 1):
        assert (trainer_module / f"saved_{rank}").read_text() == sig.name, output


def test_inside_a_slurm_step_every_process_gets_the_signal_once_and_the_workers_still_save(
    trainer_module: Path,
) -> None:
    """SLURM signals every process of a step (launcher, torchrun, workers): the launcher must not
    relay it again, or torchrun, hit twice while it shuts its workers down, exits before they saved."""
    import psutil

    env = {
        **os.environ,
        "SLURM_STEP_ID": "0",
        "PYTHONPATH": os.pathsep.join([str(trainer_module), str(REPO / "src")]),
    }
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from twinarch.core.launch import launch\n"
        f"launch('fake_trainer', {{'out': {str(trainer_module)!r}, 'wait': True}}, "
        f"{str(trainer_module / 'spec.json')!r}, nproc_per_node=2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not all((trainer_module / f"ready_{r}").exists() for r in (0, 1)):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "torchrun workers did not start"
        time.sleep(0.1)
    step = psutil.Process(proc.pid)
    for process in [step, *step.children(recursive=True)]:  # what SLURM's process tracking does
        process.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output
    assert "SLURM signals every process of the step" in output and "forwarding it to pid" not in output
    for rank in (0, 1):
        assert (trainer_module / f"saved_{rank}").read_text() == "SIGTERM", output
