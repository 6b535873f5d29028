"""Kill a training run at its first checkpoint, for the resume tests of every trainer.

Every trainer (pretraining, MNTP, cross-objective training) promises that a run killed mid-way and
started again ends at the weights of one that was never interrupted; the tests share this harness.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file


def kill_at_checkpoint(module: str, spec: dict, root: Path, checkpoint: Path) -> None:
    """Run `python -m module <spec>` in `root` and SIGKILL it as soon as `checkpoint` exists."""
    spec_path = root / "killed_spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(spec_path)], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not checkpoint.is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


def same_weights(a: Path, b: Path) -> bool:
    """Whether two saved models hold bit-identical tensors under the same names."""
    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
