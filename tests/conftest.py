"""Fixtures shared by the whole suite. No hub: HF_HUB_OFFLINE is set before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session", autouse=True)
def warm_jobs():
    """Every workflow a test runs starts its Snakemake jobs in forks of one warm server, as `make demo`
    does (`twinarch.core.forkserver`): library imports are otherwise the suite's largest cost. The
    server's own tests (tests/core/test_forkserver.py) run the plain path beside it."""
    from twinarch.core.forkserver import running

    with running():
        yield


@pytest.fixture(autouse=True)
def environment_unchanged_by_tests():
    """No test leaves a variable behind (libraries set some when called, tests set others): later
    workflow runs see the session's environment, so their jobs can start warm."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the miniature data folder is missing: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A small byte-level BPE tokenizer (vocab 2000) trained on real Japanese text, saved as a
    Hugging Face tokenizer directory with every special token both objectives need."""
    from twinarch.data.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    texts = []
    from twinarch.core.io import iter_jsonl

    for i, row in enumerate(iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")):
        texts.append(row["text"])
        if i >= 400:
            break
    train_tokenizer(texts, out, kind="bpe", vocab_size=2000)
    return out


@pytest.fixture()
def snakemake_run(tmp_path: Path, shared_data: Path):
    """Run the workflow in an isolated working directory (so tests never touch results/ and never
    contend for Snakemake's lock): `snakemake_run("data", configfile="config/config.yaml",
    config={"key": "value"}, extra=["-n"])` returns the CompletedProcess; `.workdir` is tmp_path."""
    import subprocess
    import sys

    def run(
        *targets: str,
        configfile: str = "config/config.yaml",
        config: dict | None = None,
        extra: list[str] | None = None,
        cores: int = 2,
        check: bool = True,
        workdir: Path | None = None,
    ) -> subprocess.CompletedProcess:
        wd = workdir or tmp_path
        overrides = {"data_root": str(shared_data), **(config or {})}
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO_ROOT / "Snakefile"),
            *targets,
            "--directory",
            str(wd),
            "--configfile",
            str(REPO_ROOT / configfile),
            "--cores",
            str(cores),
            *(extra or []),
            # last: --config takes every following word as a key=value pair
            "--config",
            *[f"{k}={v}" for k, v in overrides.items()],
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        proc.workdir = wd  # type: ignore[attr-defined]
        if check and proc.returncode != 0:
            pytest.fail(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        return proc

    return run
