"""The workflow as users and their CI see it: every config dry-runs offline, lint and format are clean."""

from __future__ import annotations

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
