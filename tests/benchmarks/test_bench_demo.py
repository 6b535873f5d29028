"""`make bench-demo`'s per-rule table, from benchmark files laid out as Snakemake writes them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench_demo():
    spec = importlib.util.spec_from_file_location("bench_demo", REPO / "benchmarks" / "bench_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path: Path, *seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t0\t0\n" for s in seconds), encoding="utf-8")


def test_totals_per_rule_read_nested_wildcard_files_and_the_last_run_of_each(tmp_path):
    root = tmp_path / "logs" / "benchmarks"
    write(root / "train_tokenizer.tsv", 4.0)
    write(root / "evaluate_model" / "encoder" / "seed_0" / "ft.tsv", 30.0, 10.0)  # rerun: the last counts
    write(root / "evaluate_model" / "decoder" / "seed_1" / "ft.tsv", 20.0)
    module = bench_demo()
    assert module.rule_seconds(tmp_path) == {"evaluate_model": [20.0, 10.0], "train_tokenizer": [4.0]}
    table = module.report(tmp_path, wall=17.0).splitlines()
    assert table[1].split() == ["evaluate_model", "2", "30.0", "15.0", "20.0"]  # largest total first
    assert table[-2].split()[-2:] == ["3", "34.0"]
    assert table[-1].endswith("average parallelism 2.00")
