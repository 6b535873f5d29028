"""The warm fork server: a job run through it is the job a fresh interpreter would run (streams,
working directory, environment, exit status, random streams, threads), stop signals reach it once,
and whatever the server cannot reproduce runs in the client instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twinarch.core.forkserver import CHILD_ENV, SOCKET_ENV, env_differences, running, shadowed

# Stands in for the file Snakemake writes: its preamble sets `__real_file__`, then the script
# imports twinarch first (which hands the job over when a server is named). JOB_VAR is set in a job
# the server runs.
PREAMBLE = f"__real_file__ = __file__\nJOB_VAR = {CHILD_ENV!r}\nimport twinarch  # noqa: F401\n"


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "job.py"
    path.write_text(PREAMBLE + textwrap.dedent(body), encoding="utf-8")
    return path


def run_client(path: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(path)], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def light_server():
    """A server that preloads only json, so that these tests start it in a fraction of a second."""
    with running(preload=("json",)) as path:
        yield path


def test_env_differences_ignore_per_job_and_import_set_variables():
    before = {"HOME": "/h", "HF_HUB_OFFLINE": "1"}
    after = {**before, "KMP_INIT_AT_FORK": "FALSE"}  # set by an import in the server
    job = {**before, "OMP_NUM_THREADS": "1", "TMPDIR": "/t", "KMP_INIT_AT_FORK": "FALSE"}
    assert env_differences(job, before, after) == []
    assert env_differences({**job, "TWINARCH_HUB_MIRROR": "/m"}, before, after) == []
    assert env_differences({**job, "HF_HUB_OFFLINE": "0", "NEW": "x"}, before, after) == ["HF_HUB_OFFLINE", "NEW"]
    assert env_differences({"HOME": "/h"}, before, after) == ["HF_HUB_OFFLINE"]


def test_shadowed_names_preloaded_packages_found_on_a_pythonpath(tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "mteb.py").write_text("", encoding="utf-8")
    found = shadowed(f"/nowhere{os.pathsep}{tmp_path}", ["torch", "torch.nn", "mteb", "pandas"])
    assert found == ["mteb", "torch"]
    assert shadowed("", ["torch"]) == []


def test_a_job_runs_in_a_fork_with_the_clients_streams_directory_environment_and_status(tmp_path, light_server):
    work = tmp_path / "work"
    work.mkdir()
    path = script(
        tmp_path,
        """
        import json, os, sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        json.dump({"cwd": os.getcwd(), "pid": os.getpid(), "job": os.environ.get(JOB_VAR),
                   "extra": os.environ.get("OMP_NUM_THREADS"), "path0": sys.path[0]}, open("seen.json", "w"))
        raise SystemExit(3)
        """,
    )
    proc = run_client(path, work, OMP_NUM_THREADS="1")
    assert proc.returncode == 3, proc.stderr
    assert "to stdout" in proc.stdout and "to stderr" in proc.stderr
    seen = json.loads((work / "seen.json").read_text(encoding="utf-8"))
    assert seen["cwd"] == str(work) and seen["job"] == "1" and seen["extra"] == "1", proc.stderr
    assert seen["path0"] == str(tmp_path)  # the script's folder first, as `python job.py` has it


def test_an_uncaught_exception_prints_its_traceback_and_exits_1(tmp_path, light_server):
    path = script(tmp_path, 'raise ValueError("bad input in config key x")\n')
    proc = run_client(path, tmp_path)
    assert proc.returncode == 1
    assert "ValueError: bad input in config key x" in proc.stderr and "Traceback" in proc.stderr


def test_a_different_environment_runs_the_job_in_the_client(tmp_path, light_server):
    path = script(tmp_path, 'import os; open("job.txt", "w").write(str(os.environ.get(JOB_VAR)))\n')
    proc = run_client(path, tmp_path, HF_HUB_OFFLINE="0", SOME_LIBRARY_SETTING="yes")
    assert proc.returncode == 0
    assert (tmp_path / "job.txt").read_text(encoding="utf-8") == "None"
    assert "SOME_LIBRARY_SETTING" in proc.stderr and "running in its own process" in proc.stderr


def test_without_a_server_nothing_changes(tmp_path):
    path = script(tmp_path, 'import os; open("job.txt", "w").write(str(os.environ.get(JOB_VAR)))\n')
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and (tmp_path / "job.txt").read_text(encoding="utf-8") == "None"


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


STOPPABLE = """
import os, signal, sys, time
def stop(signum, frame):
    with open("signals.txt", "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open("ready", "w").write(str(os.getpid()))
time.sleep(60)
"""


def test_a_stop_signal_to_the_client_reaches_the_job_once(tmp_path, light_server):
    path = script(tmp_path, STOPPABLE)
    proc = subprocess.Popen([sys.executable, str(path)], cwd=tmp_path)
    wait_for(tmp_path / "ready")
    assert int((tmp_path / "ready").read_text(encoding="utf-8")) != proc.pid  # the job is the fork
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert (tmp_path / "signals.txt").read_text(encoding="utf-8") == "SIGTERM\n"


def test_a_killed_client_stops_its_job(tmp_path, light_server):
    path = script(tmp_path, STOPPABLE)
    proc = subprocess.Popen([sys.executable, str(path)], cwd=tmp_path)
    wait_for(tmp_path / "ready")
    proc.kill()
    proc.wait()
    wait_for(tmp_path / "signals.txt")
    assert (tmp_path / "signals.txt").read_text(encoding="utf-8") == "SIGTERM\n"


SNAKEFILE = """
rule all:
    input:
        expand("out/{i}.json", i=range(3)),

rule job:
    output:
        "out/{i}.json",
    log:
        "logs/{i}.log",
    threads: 1
    script:
        "job.py"
"""

JOB = f"""
import json, os
import twinarch  # noqa: F401
import numpy, torch
torch.manual_seed(int(snakemake.wildcards.i))
json.dump({{"x": torch.rand(4).tolist(), "y": torch.randn(2, generator=torch.Generator().manual_seed(7)).tolist(),
           "threads": torch.get_num_threads(), "warm": os.environ.get({CHILD_ENV!r})}}, open(snakemake.output[0], "w"))
"""


@pytest.mark.slow
def test_snakemake_jobs_give_the_same_outputs_warm_and_cold(tmp_path):
    """The real path: Snakemake's script jobs, warm (forked from a server that imported torch) and
    cold (a fresh interpreter each), give identical random streams and the job's thread count."""
    outputs = {}
    for mode in ("cold", "warm"):
        wd = tmp_path / mode
        wd.mkdir()
        (wd / "Snakefile").write_text(SNAKEFILE, encoding="utf-8")
        (wd / "job.py").write_text(JOB, encoding="utf-8")
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--quiet"]
        env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
        if mode == "warm":
            cmd = [sys.executable, "-m", "twinarch.core.forkserver", "--", *cmd]
        proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        outputs[mode] = [json.loads((wd / "out" / f"{i}.json").read_text(encoding="utf-8")) for i in range(3)]
    for cold, warm in zip(outputs["cold"], outputs["warm"], strict=True):
        assert cold["warm"] is None and warm["warm"] == "1"
        assert cold["threads"] == warm["threads"] == 1
        assert cold["x"] == warm["x"] and cold["y"] == warm["y"]
    assert outputs["warm"][0]["x"] != outputs["warm"][1]["x"]
