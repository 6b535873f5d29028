"""Starting a training module with one process per GPU that the job holds.

Training modules (`twinarch.pretrain`, `twinarch.embed`) expose `main(spec: dict)` and
`python -m <module> SPEC.json`. With one process (CPU, or a single GPU) the module runs in the
calling process; with several, torchrun starts them (and `srun` spreads torchrun over nodes), so the
transformers Trainer sees a normal distributed environment. No distributed code is written by hand.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def torchrun_command(module: str, spec_path: Path, nproc_per_node: int, nnodes: int = 1) -> list[str]:
    """The command line that starts `module` on every process of the job.

    Multi-node jobs run one torchrun per node under `srun` with a c10d rendezvous at the first node
    of the SLURM allocation, the form documented by PyTorch for SLURM clusters.
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
    if nnodes > 1:
        head = os.environ.get("TWINARCH_RDZV_HOST") or _slurm_head_node()
        job = os.environ.get("SLURM_JOB_ID", "twinarch")
        cmd = ["srun", f"--nodes={nnodes}", "--ntasks-per-node=1", *cmd]
        cmd += [f"--nnodes={nnodes}", "--rdzv_backend=c10d", f"--rdzv_endpoint={head}:29500", f"--rdzv_id={job}"]
    else:
        cmd += ["--standalone"]
    return cmd + ["-m", module, str(spec_path)]


def _slurm_head_node() -> str:
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist:
        raise RuntimeError("a multi-node launch needs SLURM_JOB_NODELIST (run it inside a SLURM job)")
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def launch(module: str, spec: dict[str, Any], spec_path: str | Path, nproc_per_node: int = 1, nnodes: int = 1) -> None:
    """Run `module.main(spec)` in-process, or under torchrun when the job has several processes."""
    spec_path = Path(spec_path)
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=2, default=str), encoding="utf-8")
    if nproc_per_node <= 1 and nnodes <= 1:
        importlib.import_module(module).main(spec)
        return
    cmd = torchrun_command(module, spec_path, nproc_per_node, nnodes)
    log.info("launching: %s", shlex.join(cmd))
    subprocess.run(cmd, check=True)


def cli(main: Any, argv: list[str] | None = None) -> None:
    """`python -m twinarch.<module> SPEC.json` entry point shared by the training modules."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit(f"usage: python -m <module> SPEC.json (got {argv})")
    main(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
