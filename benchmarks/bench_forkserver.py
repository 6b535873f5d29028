"""Warm against cold job start-up, as a ratio in one run: the same small Snakemake workflow (jobs that
import what a scoring or training job imports, then do a moment of torch work) run with every job in
a fresh interpreter, then beside the fork server (`twinarch.core.forkserver`) as `make demo` runs.

    .venv/bin/python benchmarks/bench_forkserver.py [--jobs 8] [--cores 2]

Prints both wall times, the job-seconds from the benchmark files, and cold/warm. Not a test.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from twinarch.core.forkserver import SOCKET_ENV

SNAKEFILE = """
rule all:
    input:
        expand("out/{{i}}.txt", i=range({jobs})),

rule job:
    output:
        "out/{{i}}.txt",
    log:
        "logs/{{i}}.log",
    benchmark:
        "benchmarks/{{i}}.tsv"
    threads: 1
    script:
        "job.py"
"""

JOB = """
import twinarch  # a workflow script's first twinarch import runs the hand-over
import mteb, sentence_transformers, torch
from transformers import Trainer
torch.manual_seed(int(snakemake.wildcards.i))
x = torch.randn(256, 256)
open(snakemake.output[0], "w").write(f"{float((x @ x).sum()):.6f}\\n")
"""


def run(workdir: Path, jobs: int, cores: int, warm: bool) -> tuple[float, float]:
    """Wall seconds of the workflow and the sum of its jobs' benchmark seconds."""
    workdir.mkdir(parents=True)
    (workdir / "Snakefile").write_text(SNAKEFILE.format(jobs=jobs), encoding="utf-8")
    (workdir / "job.py").write_text(JOB, encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet"]
    if warm:
        cmd = [sys.executable, "-m", "twinarch.core.forkserver", "--", *cmd]
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    started = time.perf_counter()
    subprocess.run(cmd, cwd=workdir, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    job_seconds = 0.0
    for path in (workdir / "benchmarks").glob("*.tsv"):
        with path.open(encoding="utf-8") as handle:
            job_seconds += float(next(csv.DictReader(handle, delimiter="\t"))["s"])
    return wall, job_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twinarch-bench-forkserver-") as tmp:
        cold = run(Path(tmp) / "cold", args.jobs, args.cores, warm=False)
        warm = run(Path(tmp) / "warm", args.jobs, args.cores, warm=True)
    for name, (wall, job_s) in (("cold", cold), ("warm", warm)):
        print(f"{name}: {args.jobs} jobs in {wall:6.1f} s wall, {job_s:6.1f} job-s ({job_s / args.jobs:.2f} s per job)")
    print(f"cold/warm: {cold[0] / warm[0]:.2f}x wall, {cold[1] / warm[1]:.2f}x job-seconds")


if __name__ == "__main__":
    main()
