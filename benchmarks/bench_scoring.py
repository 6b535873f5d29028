"""One scoring job with and without the embedding cache shared across its tasks.

The same embedding model, the same tasks (`config/jmini.yaml`'s, read through the validated config as
the `evaluate_model` rule's params are), the same run; the two alternate so that machine noise hits
both. The baseline is the scoring job as it was before the cache: every task encodes its own texts.
Prints each run's seconds, the ratio (with / without; below 1.0 means the cache saves time) and the
largest difference between the two runs' JMTEB scores (the cache batches texts differently, so only
float rounding may differ). Run it after `make jmini`, or point `--model` at any embedding model
directory. Not a test.

    .venv/bin/python benchmarks/bench_scoring.py [--model results/embed/encoder/seed_0/ft/model]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import yaml

from twinarch.core.config import validate_config
from twinarch.evaluate import scoring
from twinarch.evaluate.rules import EvaluateRules

REPO = Path(__file__).resolve().parents[1]


def score(model: Path, entries: list, settings: dict, folder: Path, shared: bool) -> tuple[float, dict[str, float]]:
    """Seconds of one scoring job and its JMTEB score per task; `shared=False` is the per-task baseline."""
    baseline = mock.patch.object(scoring, "SharedEmbeddings", side_effect=lambda encoder: encoder)
    start = time.perf_counter()
    with contextlib.nullcontext() if shared else baseline:
        rows = scoring.evaluate_model(
            model,
            [folder / f"{e['name']}.json" for e in entries],
            arm="bench",
            replicate=0,
            stage="ft",
            entries=entries,
            settings=settings,
            device=None,
            seed=0,
            cache_dir=folder / "mteb",
            threads=1,
        )
    return time.perf_counter() - start, {r["task"]: r["jmteb_score"] for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "jmini.yaml")
    parser.add_argument("--model", type=Path, default=Path("results/embed/encoder/seed_0/ft/model"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.model.is_dir():
        raise SystemExit(f"{args.model}: no embedding model there (run `make jmini` first, or pass --model)")

    config = validate_config(yaml.safe_load(args.config.read_text(encoding="utf-8")))
    rules = EvaluateRules(config)
    entries, settings = rules.task_entries(None), rules.settings(None)
    times: dict[bool, list[float]] = {True: [], False: []}
    scores: dict[bool, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for shared in (repeat % 2 == 0, repeat % 2 != 0):
                seconds, scores[shared] = score(args.model, entries, settings, Path(tmp) / f"{shared}-{repeat}", shared)
                times[shared].append(seconds)
                print(f"repeat {repeat}: {'shared cache' if shared else 'per task'}: {seconds:.1f} s", flush=True)
    with_cache, without = statistics.median(times[True]), statistics.median(times[False])
    for task in scores[True]:
        print(f"{task:32s} shared {scores[True][task]:.5f} per task {scores[False][task]:.5f}")
    worst = max(abs(scores[True][task] - scores[False][task]) for task in scores[True])
    print(f"{len(entries)} tasks, model {args.model}, one thread")
    print(
        f"median with the shared cache {with_cache:.1f} s, per task {without:.1f} s, ratio {with_cache / without:.2f}"
    )
    print(f"largest JMTEB score difference between the two: {worst:.1e}")


if __name__ == "__main__":
    main()
