"""The workflow as users and their CI see it: every config dry-runs offline, lint and format are clean."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

CONFIGS = ["config/config.yaml", "config/jmini.yaml", "config/paper.yaml"]


@pytest.mark.parametrize("configfile", CONFIGS)
def test_dry_run_succeeds_offline(snakemake_run, configfile):
    proc = snakemake_run(configfile=configfile, extra=["-n", "--quiet", "rules"])
    assert proc.returncode == 0


def test_dry_run_names_a_bad_config_key(snakemake_run):
    proc = snakemake_run(configfile="config/config.yaml", config={"seed": "abc"}, extra=["-n"], check=False)
    assert proc.returncode != 0
    assert "config key 'seed'" in proc.stderr + proc.stdout


def test_lint_is_clean(repo_root):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rules_are_snakefmt_formatted(repo_root):
    files = [str(repo_root / "Snakefile"), *map(str, sorted((repo_root / "workflow" / "rules").glob("*.smk")))]
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files], cwd=repo_root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_python_is_ruff_clean(repo_root, command):
    """Pyflakes, import order and the formatter (pyproject.toml's [tool.ruff]) over every Python file."""
    paths = ["src", "tests", "benchmarks", "workflow/scripts"]
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *paths], cwd=repo_root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_that_logs_also_writes_its_benchmark(repo_root):
    """Snakemake's benchmark files are how the README's timings and `make bench-demo`'s per-rule
    totals are measured: a rule without one is invisible to them."""
    missing = []
    for path in [repo_root / "Snakefile", *sorted((repo_root / "workflow" / "rules").glob("*.smk"))]:
        for block in re.split(r"^(?=rule \w+:)", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
            name = block.split(":", 1)[0].removeprefix("rule ")
            if "\n    log:" in block and "\n    benchmark:" not in block:
                missing.append(f"{path.name}: {name}")
    assert not missing
