"""A one-machine SLURM for tests: sbatch, srun, sacct, squeue, sinfo, scancel and scontrol.

The programs in this folder speak exactly the subset that snakemake-executor-plugin-slurm 2.8 (and
its jobstep plugin) use: `sbatch --parsable ... --wrap="..."` prints the job id and runs the
script in the background; `sacct -X --parsable2 ... --name RUN` and `squeue --format=%i|%T ...
--name RUN` print `id|STATE`; `srun` runs one task as a job step; `scancel` ends jobs. Every
sbatch and srun call is recorded (`sbatch.jsonl`, `srun.jsonl`) so tests can assert on requests.

SLURM's signal semantics are kept, since resuming after a time limit is what is being tested. SLURM
tracks a step's processes in a cgroup and signals every one of them, whatever its process group or
session (torchrun starts its workers in sessions of their own); here every process of a job carries
FAKE_SLURM_JOB=<id> and every process of a step FAKE_SLURM_STEP=<id>.<n> (and SLURM_STEP_ID) in its
environment, inherited by all its descendants, and signals go to every process that carries them. A
job's `--signal=[B:]SIG@SECONDS` warning goes to its steps (or with `B:` to the batch shell), the time
limit sends SIGTERM to everything and SIGKILL after KillWait, and the state becomes TIMEOUT.
Time limits are enforced only when FAKE_SLURM_SECONDS_PER_MINUTE is set (a minute of `-t` and a
second of `@SECONDS` last that many real seconds / 60 times as long); `expire(jobid)` ends a job
as if its time limit had come, for tests that choose the moment themselves.

State lives in $FAKE_SLURM_DIR (one folder per test). Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")
KILL_WAIT_S = 5.0
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def state_dir() -> Path:
    path = Path(os.environ["FAKE_SLURM_DIR"])
    (path / "jobs").mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked() -> Iterator[Path]:
    """Serialise every read-modify-write of the state folder."""
    root = state_dir()
    with open(root / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_job(root: Path, jobid: str) -> dict[str, Any]:
    return json.loads((root / "jobs" / f"{jobid}.json").read_text())


def save_job(root: Path, job: dict[str, Any]) -> None:
    tmp = root / "jobs" / f".{job['id']}.json.tmp"
    tmp.write_text(json.dumps(job))
    tmp.replace(root / "jobs" / f"{job['id']}.json")


def update_job(jobid: str, **changes: Any) -> dict[str, Any]:
    with locked() as root:
        job = load_job(root, jobid)
        job.update(changes)
        save_job(root, job)
        return job


def all_jobs() -> list[dict[str, Any]]:
    root = state_dir()
    return [json.loads(p.read_text()) for p in sorted((root / "jobs").glob("*.json"))]


def append_record(name: str, record: dict[str, Any]) -> None:
    with locked() as root, open(root / name, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def parse_options(argv: list[str], with_value: set[str]) -> tuple[dict[str, str], list[str]]:
    """`--key=value`, `--key value` (for keys in `with_value`), `-k value`, `-kvalue`, flags;
    stops at the first non-option (the command of srun)."""
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq and key in with_value and i + 1 < len(argv):
                i += 1
                value = argv[i]
            opts[key] = value
        else:
            key, value = arg[1:2], arg[2:]
            if not value and key in with_value and i + 1 < len(argv):
                i += 1
                value = argv[i]
            opts[key] = value
        i += 1
    return opts, argv[i:]


# ----------------------------------------------------------------------------------- sbatch


SBATCH_VALUED = {
    "job-name",
    "J",
    "output",
    "o",
    "error",
    "e",
    "comment",
    "A",
    "account",
    "p",
    "partition",
    "t",
    "time",
    "mem",
    "mem-per-cpu",
    "D",
    "chdir",
    "C",
    "constraint",
    "clusters",
    "N",
    "n",
}


def sbatch(argv: list[str]) -> int:
    opts, rest = parse_options(argv, SBATCH_VALUED)
    if "wrap" in opts:
        script = opts["wrap"]
    elif rest:
        script = sys.stdin.read() if rest[0] == "/dev/stdin" else Path(rest[0]).read_text()
    else:
        print("sbatch: error: no script and no --wrap", file=sys.stderr)
        return 1
    with locked() as root:
        counter = root / "counter"
        jobid = str(int(counter.read_text()) + 1 if counter.exists() else 1000)
        counter.write_text(jobid)
        job = {
            "id": jobid,
            "name": opts.get("job-name", opts.get("J", "sbatch")),
            "state": "PENDING",
            "exit_code": None,
            "options": opts,
            "script": script,
            "batch_pgid": None,
            "steps": [],
            "workdir": opts.get("D", opts.get("chdir", os.getcwd())),
            "output": opts.get("output", opts.get("o", f"slurm-{jobid}.out")).replace("%j", jobid),
        }
        save_job(root, job)
        with open(root / "sbatch.jsonl", "a") as fh:
            fh.write(json.dumps({"jobid": jobid, "argv": argv, "options": opts}) + "\n")
    subprocess.Popen(
        [sys.executable, str(HERE / "fakeslurm.py"), "_run", jobid],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(jobid if "parsable" in opts else f"Submitted batch job {jobid}")
    return 0


def minutes(value: str) -> float:
    """SLURM time formats used by the plugin: minutes, or [D-]HH:MM[:SS]."""
    days, _, clock = value.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    if len(parts) == 1:
        total = parts[0]
    elif len(parts) == 2:
        total = parts[0] + parts[1] / 60
    else:
        total = parts[0] * 60 + parts[1] + parts[2] / 60
    return total + (float(days) * 1440 if days else 0.0)


def parse_signal(spec: str | None) -> tuple[bool, signal.Signals, float] | None:
    """`[B:]SIG[@SECONDS]` -> (batch only, signal, seconds before the end); SLURM's default is 60 s."""
    if not spec:
        return None
    batch = spec.startswith("B:")
    name, _, lead = spec.removeprefix("B:").removeprefix("R:").partition("@")
    sig = signal.Signals(int(name)) if name.isdigit() else signal.Signals["SIG" + name.removeprefix("SIG")]
    return batch, sig, float(lead or 60)


def tracked_pids(key: str, prefix: str) -> list[int]:
    """Processes whose environment has `key` starting with `prefix` (SLURM's process tracking)."""
    wanted = f"{key}={prefix}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours
            continue
        if any(var.startswith(wanted) for var in environ):
            found.append(int(entry.name))
    return found


def signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def signal_steps(jobid: str, sig: int) -> None:
    """Every process of every step of the job (what `--signal` without `B:` and scancel do)."""
    signal_pids(tracked_pids("FAKE_SLURM_STEP", f"{jobid}."), sig)


def signal_job(jobid: str, sig: int) -> None:
    """Every process of the job, batch shell and steps alike (the time limit, scancel)."""
    signal_pids(tracked_pids("FAKE_SLURM_JOB", jobid), sig)


def run_job(jobid: str) -> None:
    """The batch step: run the script, enforce the time limit, record the final state."""
    root = state_dir()
    job = load_job(root, jobid)
    opts = job["options"]
    env = dict(os.environ)
    env.update(
        {
            "SLURM_JOB_ID": jobid,
            "SLURM_JOBID": jobid,
            "SLURM_JOB_NAME": job["name"],
            "SLURM_JOB_NODELIST": socket.gethostname(),
            "SLURM_NNODES": opts.get("nodes", "1"),
            "SLURM_JOB_NUM_NODES": opts.get("nodes", "1"),
            "SLURM_SUBMIT_DIR": job["workdir"],
            "SLURM_JOB_PARTITION": opts.get("p", opts.get("partition", "fake")),
            "FAKE_SLURM_JOB": jobid,
        }
    )
    if "cpus-per-task" in opts:
        env["SLURM_CPUS_PER_TASK"] = opts["cpus-per-task"]
    if "gpus" in opts:
        env["SLURM_GPUS"] = opts["gpus"]
    Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
    with open(job["output"], "w") as out:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", job["script"]],
            cwd=job["workdir"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    update_job(jobid, state="RUNNING", batch_pgid=proc.pid, started=time.time())
    scale = os.environ.get("FAKE_SLURM_SECONDS_PER_MINUTE")
    limit = minutes(opts.get("t", opts.get("time", "0"))) * 60 * float(scale) / 60 if scale else None
    warning = parse_signal(opts.get("signal"))
    start, warned = time.monotonic(), False
    while proc.poll() is None:
        elapsed = time.monotonic() - start
        if limit and warning and not warned and elapsed >= limit - warning[2] * float(scale) / 60:
            warned = True
            batch_only, sig, _ = warning
            current = load_job(root, jobid)
            if batch_only:
                signal_pids([current["batch_pgid"]], sig)
            else:
                signal_steps(jobid, sig)
        if limit and elapsed >= limit:
            expire(jobid)
            break
        time.sleep(0.1)
    returncode = proc.wait()
    with locked() as root:
        job = load_job(root, jobid)
        if job["state"] not in TERMINAL:
            job["state"] = "COMPLETED" if returncode == 0 else "FAILED"
        job["exit_code"] = returncode
        job["ended"] = time.time()
        save_job(root, job)


def end_job(jobid: str, state: str, sig: int = signal.SIGTERM, kill_wait: float = KILL_WAIT_S) -> None:
    """SIGTERM (or `sig`) to every process of the job, SIGKILL after `kill_wait`, final `state`."""
    with locked() as root:
        job = load_job(root, jobid)
        if job["state"] in TERMINAL:
            return
        job["state"] = state
        save_job(root, job)
    signal_job(jobid, sig)
    deadline = time.monotonic() + kill_wait
    while time.monotonic() < deadline and tracked_pids("FAKE_SLURM_JOB", jobid):
        time.sleep(0.1)
    signal_job(jobid, signal.SIGKILL)


def expire(jobid: str, kill_wait: float = KILL_WAIT_S) -> None:
    """End a job as its time limit would: SIGTERM to all its processes, SIGKILL later, TIMEOUT."""
    end_job(jobid, "TIMEOUT", kill_wait=kill_wait)


# ----------------------------------------------------------------------------------- srun


SRUN_VALUED = {"n", "N", "c", "J", "jobid", "ntasks", "nodes", "cpus-per-task", "gpus", "mem", "t", "time"}


def srun(argv: list[str]) -> int:
    """One job step on this machine: the command in its own session, tracked as the job's next step."""
    opts, command = parse_options(argv, SRUN_VALUED)
    jobid = os.environ.get("SLURM_JOB_ID")
    if not jobid or not command:
        print("srun: error: fake srun runs only inside a fake sbatch job, with a command", file=sys.stderr)
        return 1
    append_record("srun.jsonl", {"jobid": jobid, "argv": argv, "options": opts, "command": command})
    with locked() as root:
        job = load_job(root, jobid)
        step = len(job["steps"])
        job["steps"].append(step)
        save_job(root, job)
    env = {**os.environ, "SLURM_STEP_ID": str(step), "FAKE_SLURM_STEP": f"{jobid}.{step}"}
    proc = subprocess.Popen(command, start_new_session=True, env=env)
    # srun relays the signals it gets to the step's tasks, as SLURM's srun does.
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, _frame: signal_pids([proc.pid], signum))
    returncode = proc.wait()
    return returncode if returncode >= 0 else 128 - returncode


# ------------------------------------------------------------------------- queries and control


def status_lines(name: str | None, ids: list[str]) -> list[str]:
    return [
        f"{j['id']}|{j['state']}"
        for j in all_jobs()
        if (name is None or j["name"] == name) and (not ids or j["id"] in ids)
    ]


def sacct(argv: list[str]) -> int:
    opts, _ = parse_options(argv, {"name", "format", "o", "j", "starttime", "endtime", "clusters", "u"})
    fmt = opts.get("format", opts.get("o", "")).lower()
    if "name" in opts:
        print("\n".join(status_lines(opts["name"], [])))
    elif "j" in opts and "nodelist" in fmt:
        print(socket.gethostname())
    elif "j" in opts and "reason" in fmt:
        jobid = opts["j"].split(".")[0]
        if not opts["j"].endswith(".0"):
            return 0
        print(load_job(state_dir(), jobid)["state"])
    # account guesses (`sacct -nu USER -o Account%256`): no accounting here, print nothing
    return 0


def squeue(argv: list[str]) -> int:
    opts, _ = parse_options(argv, {"name", "format", "o", "j", "states", "t"})
    print("\n".join(status_lines(opts.get("name"), opts["j"].split(",") if "j" in opts else [])))
    return 0


def sinfo(argv: list[str]) -> int:
    print("PARTITION\nfake*")
    return 0


def scancel(argv: list[str]) -> int:
    opts, ids = parse_options(argv, {"signal", "s", "clusters"})
    spec = opts.get("signal", opts.get("s"))
    for jobid in ids:
        if spec:  # `scancel --signal=SIG`: deliver, do not end (to the steps, as SLURM does)
            job = load_job(state_dir(), jobid)
            sig = parse_signal(spec)
            assert sig is not None
            if job["steps"]:
                signal_steps(jobid, sig[1])
            else:
                signal_pids([job["batch_pgid"]], sig[1])
        else:
            end_job(jobid, "CANCELLED")
    return 0


def expand_hostnames(nodelist: str) -> list[str]:
    """`a[1-3,5],b` -> a1 a2 a3 a5 b (the forms scontrol show hostnames expands)."""
    hosts: list[str] = []
    for prefix, ranges, plain in re.findall(r"([^,\[]+)\[([^\]]+)\]|([^,]+)", nodelist):
        if plain:
            hosts.append(plain)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            for n in range(int(lo), int(hi or lo) + 1):
                hosts.append(f"{prefix}{n:0{len(lo)}d}")
    return hosts


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        print("MaxArraySize            = 1001\nMinJobAge               = 300 sec\nKillWait                = 5 sec")
    elif argv[:2] == ["show", "hostnames"]:
        print("\n".join(expand_hostnames(argv[2] if len(argv) > 2 else os.environ.get("SLURM_JOB_NODELIST", ""))))
    elif argv[:2] == ["show", "partition"]:
        print("PartitionName=fake Default=YES MaxTime=UNLIMITED MaxNodes=1 State=UP TotalCPUs=2 TotalNodes=1")
    else:
        print(f"scontrol: fake scontrol does not know {shlex.join(argv)}", file=sys.stderr)
        return 1
    return 0


PROGRAMS = {
    "sbatch": sbatch,
    "srun": srun,
    "sacct": sacct,
    "squeue": squeue,
    "sinfo": sinfo,
    "scancel": scancel,
    "scontrol": scontrol,
}


def main(program: str, argv: list[str]) -> int:
    return PROGRAMS[program](argv)


if __name__ == "__main__":
    if sys.argv[1] == "_run":
        run_job(sys.argv[2])
    else:
        sys.exit(main(sys.argv[1], sys.argv[2:]))
