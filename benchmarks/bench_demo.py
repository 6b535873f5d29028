"""The demo end to end from a clean results/, timed, with per-rule totals from Snakemake's benchmark files.

`make bench-demo` runs it: the demo workflow in a fresh working directory (the checkout's results/ is
left alone), then a table of every rule's jobs, summed and longest wall time (the `s` column of its
`logs/benchmarks/...tsv` files), and the run's average parallelism (job-seconds over wall seconds).
The next change that slows the demo shows here as a rule whose total grew. Not a test: nothing here
asserts a time. It runs as `make demo` does, beside a warm fork server (`twinarch.core.forkserver`);
`--cold` runs every job in a fresh interpreter instead (what a cluster job does).

    .venv/bin/python benchmarks/bench_demo.py [--cores 2] [--cold] [--workdir DIR] [--summarize DIR]

`--summarize DIR` prints the table of a run that already happened (no new run).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path

from twinarch.core.forkserver import running

REPO = Path(__file__).resolve().parents[1]


def rule_seconds(workdir: Path) -> dict[str, list[float]]:
    """rule -> wall seconds of each of its jobs, from logs/benchmarks/<rule>[/...].tsv."""
    root = workdir / "logs" / "benchmarks"
    seconds: dict[str, list[float]] = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0].removesuffix(".tsv")
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        seconds[rule].extend(float(row["s"]) for row in rows[-1:])  # the last run of the job
    return dict(seconds)


def report(workdir: Path, wall: float | None) -> str:
    seconds = rule_seconds(workdir)
    if not seconds:
        raise SystemExit(f"{workdir}: no benchmark files under logs/benchmarks (was the demo run there?)")
    lines = [f"{'rule':30s} {'jobs':>5s} {'total s':>9s} {'mean s':>8s} {'max s':>8s}"]
    for rule, values in sorted(seconds.items(), key=lambda item: -sum(item[1])):
        lines.append(
            f"{rule:30s} {len(values):5d} {sum(values):9.1f} {sum(values) / len(values):8.1f} {max(values):8.1f}"
        )
    job_seconds = sum(sum(v) for v in seconds.values())
    jobs = sum(len(v) for v in seconds.values())
    lines.append(f"{'all rules':30s} {jobs:5d} {job_seconds:9.1f}")
    if wall is not None:
        lines.append(f"workflow wall time: {wall:.1f} s; average parallelism {job_seconds / wall:.2f}")
    return "\n".join(lines)


def run_demo(workdir: Path, cores: int, warm: bool = True) -> float:
    data_root = (REPO.parent / "shared" / "data").resolve()
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        "--cores",
        str(cores),
        "all",
        "results/manifest.json",
        "--config",
        f"data_root={data_root}",
    ]
    started = time.perf_counter()
    with (workdir / "snakemake.log").open("w", encoding="utf-8") as log, running() if warm else nullcontext():
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the demo failed (exit {proc.returncode}); see {workdir / 'snakemake.log'}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--cold", action="store_true", help="no fork server: every job imports its libraries")
    parser.add_argument("--workdir", type=Path, help="run here instead of a new temporary directory")
    parser.add_argument("--summarize", type=Path, help="only print the table of an earlier run in DIR")
    args = parser.parse_args()
    if args.summarize:
        print(report(args.summarize, None))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="twinarch-bench-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"demo in {workdir} on {args.cores} cores ({'cold' if args.cold else 'warm'}) ...", flush=True)
    wall = run_demo(workdir, args.cores, warm=not args.cold)
    print(report(workdir, wall))


if __name__ == "__main__":
    main()
