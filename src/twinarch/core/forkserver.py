"""Warm start for local runs: Snakemake's Python jobs run in forks of a process that has already
imported torch, transformers, sentence-transformers, mteb and the rest.

Why: on a small CPU machine a job's start-up (the interpreter and 6-10 s of library imports) is as
long as its own work, and the demo has about two hundred jobs. Each job stays its own process with
its own log, benchmark file and exit status; only the imports are shared. The same adapter code runs
either way: without a server (a cluster job, a plain `snakemake` call) nothing changes.

How: `python -m twinarch.core.forkserver -- snakemake ...` starts a server on a Unix socket, runs the
command with `TWINARCH_FORKSERVER` naming the socket, and stops the server when it ends. A workflow
script's first twinarch import runs the hook in `twinarch/__init__.py`, which sends the script
Snakemake wrote (its preamble carries the job's `snakemake` object), the working directory, the
environment and the standard streams to the server and waits. The server forks a supervisor for
the job, which forks the job itself: a new session (so a terminal's Ctrl-C reaches it once, through
the waiting client, as for torchrun in `core.launch`), the client's streams, working directory and
environment, the job's thread count, then the script run as `__main__`. The client forwards the
stop signals to the job and exits with its status.

The server imports nothing of twinarch but this module, which each job forgets (an edit to the
package reaches the next job); it never runs torch work (the OpenMP pool must not exist at fork
time). A job whose environment differs from the server's in anything but the per-job variables
(`PER_JOB_ENV`: threads, temporary directory, a PYTHONPATH that shadows no preloaded package) and
twinarch's own `TWINARCH_*` runs in the client's own fresh interpreter instead: libraries read some
variables once, at import.
Snakemake's benchmark files keep the job's wall time; their CPU and memory columns then count only
the waiting client, which is why the cluster profile never uses the server.

Written by hand: multiprocessing's forkserver starts worker functions inside one Python program,
not scripts that another program (Snakemake) launches as separate commands.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

SOCKET_ENV = "TWINARCH_FORKSERVER"
CHILD_ENV = "TWINARCH_FORKSERVER_JOB"
# What the jobs import, heaviest first; importing them once is the whole point of the server.
PRELOAD = (
    "torch",
    "transformers",
    "transformers.trainer",
    "transformers.models.llama.modeling_llama",
    "transformers.models.modernbert.modeling_modernbert",
    "datasets",
    "sentence_transformers",
    "mteb",
    "peft",
    "captum.attr",
    "scipy.stats",
    "pandas",
    "matplotlib.pyplot",
)
# Set by Snakemake for each job (threads, temporary directory) or by the shell: they may differ
# between a job and the server without making the server's imports stale.
PER_JOB_ENV = frozenset(
    {
        "OMP_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "TMPDIR",
        "TMP",
        "TEMP",
        "TEMPDIR",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
        "COLUMNS",  # the terminal's size, set by shells and by pytest
        "LINES",
        "PYTHONPATH",  # applied to the job's sys.path, unless it shadows a preloaded package
        "PYTEST_CURRENT_TEST",  # pytest names the running test; the suite's workflows use the server
        SOCKET_ENV,
    }
)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
STREAMS = (0, 1, 2)
_INT = struct.Struct("!i")


def env_differences(job: dict[str, str], before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The variables (sorted) of a job's environment that match the server's neither before nor
    after its imports (some libraries set variables when imported, in the server as in Snakemake's
    own process), besides the per-job ones and twinarch's own (`TWINARCH_*`, read at run time by
    code the server never imports)."""
    keys = {k for k in job.keys() | before.keys() if k not in PER_JOB_ENV and not k.startswith("TWINARCH_")}
    return sorted(k for k in keys if job.get(k) not in (before.get(k), after.get(k)))


def shadowed(pythonpath: str, modules: Sequence[str]) -> list[str]:
    """The preloaded top-level packages that a job's PYTHONPATH would import from elsewhere (a fresh
    interpreter would take them from there, so such a job cannot use the server's)."""
    tops = sorted({m.split(".")[0] for m in modules})
    entries = [Path(e) for e in pythonpath.split(os.pathsep) if e]
    return [t for t in tops if any((e / t).is_dir() or (e / f"{t}.py").is_file() for e in entries)]


# -- client -------------------------------------------------------------------------------------


def hand_over() -> None:
    """Run this Snakemake script in a fork of the warm server and exit with its status.

    Returns (and the script goes on in this process) when no server is named, inside a job the
    server started, when `__main__` is not a Snakemake script, or when the server cannot take it.
    """
    path = os.environ.get(SOCKET_ENV)
    main = sys.modules.get("__main__")
    script = getattr(main, "__real_file__", None)  # the file Snakemake wrote: preamble + script
    if not path or os.environ.get(CHILD_ENV) or script is None:
        return
    request = pickle.dumps({"script": script, "cwd": os.getcwd(), "env": dict(os.environ)})
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        socket.send_fds(conn, [_INT.pack(len(request))], list(STREAMS))
        conn.sendall(request)
        pid = _recv_int(conn)
    except OSError as err:
        conn.close()
        print(f"forkserver: not reachable at {path} ({err}); running in this process", file=sys.stderr)
        return
    if pid < 0:  # refused: the environments differ; the reason is already on stderr
        conn.close()
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: _forward(pid, signum))
    try:
        status = _recv_int(conn)
    except OSError:
        status = 1
        print("forkserver: lost the job's supervisor before it reported a status", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # the job has run: nothing of the script may run again here


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _recv_int(conn: socket.socket) -> int:
    return _INT.unpack(_recv_exactly(conn, _INT.size))[0]


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks += chunk
    return bytes(chunks)


# -- server -------------------------------------------------------------------------------------


def serve(path: str, preload: Sequence[str] = PRELOAD) -> None:
    """Listen at `path` (connections wait in the backlog while the imports run), import `preload`,
    then fork a supervisor per connection until the process that started the server is gone."""
    owner = os.getppid()
    environment = dict(os.environ)  # before the imports: some of them set variables of their own
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    started = time.perf_counter()
    for name in preload:
        importlib.import_module(name)
    print(f"forkserver: imported {len(preload)} modules in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    while os.getppid() == owner:
        ready, _, _ = select.select([listener], [], [], 1.0)
        if not ready:
            continue
        conn, _ = listener.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            try:
                _supervise(conn, environment, preload)
            finally:
                os._exit(0)
        conn.close()


def _supervise(conn: socket.socket, environment: dict[str, str], preload: Sequence[str]) -> None:
    """In the supervisor: take the request, fork the job, report its pid, then its exit status.

    The status is the shell's: the exit code, or 128 + the signal that killed the job. When the
    client goes away first (Snakemake killed it) the job gets SIGTERM. `environment` is the server's
    before its imports, which a job's must match; `preload`, what it imported."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    header, fds, _, _ = socket.recv_fds(conn, _INT.size, len(STREAMS))
    request = pickle.loads(_recv_exactly(conn, _INT.unpack(header)[0]))
    differences = env_differences(request["env"], environment, dict(os.environ))
    differences += [f"PYTHONPATH ({m})" for m in shadowed(request["env"].get("PYTHONPATH", ""), preload)]
    if differences:
        os.write(
            fds[2], f"forkserver: the job's environment differs in {differences}; running in its own process\n".encode()
        )
        conn.sendall(_INT.pack(-1))
        return
    pid = os.fork()
    if pid == 0:
        conn.close()
        os._exit(_run_job(request, fds))
    for fd in fds:
        os.close(fd)
    conn.sendall(_INT.pack(pid))
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        ready, _, _ = select.select([conn], [], [], 0.2)
        if ready and not conn.recv(1):  # the client is gone: stop the job as Snakemake meant to
            _forward(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            break
    code = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError):
        conn.sendall(_INT.pack(code if code >= 0 else 128 - code))


def _run_job(request: dict, fds: list[int]) -> int:
    """In the job: become the process Snakemake would have started, run the script, return its
    exit code as the interpreter would."""
    os.setsid()
    for target, fd in zip(STREAMS, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    # a fresh interpreter's sys.path: the script's folder, the job's PYTHONPATH, the site's folders
    server_pythonpath = os.environ.pop("PYTHONPATH", "").split(os.pathsep)
    job_pythonpath = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    site = [p for p in sys.path[1:] if p not in server_pythonpath]
    sys.path[:] = [str(Path(request["script"]).parent), *job_pythonpath, *site]
    os.environ.update(request["env"])  # what the imports set stays, as it would in a fresh process
    os.environ[CHILD_ENV] = "1"
    tempfile.tempdir = None  # recomputed from the job's TMPDIR
    for sig in STOP_SIGNALS:  # a fresh interpreter's handlers
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    for name in [m for m in sys.modules if m == "twinarch" or m.startswith("twinarch.")]:
        del sys.modules[name]  # the job imports the package from disk, as a fresh interpreter would
    script = request["script"]
    sys.argv = [script]
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()  # what the interpreter runs at exit: logging.shutdown among others
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# -- running a command with a server ------------------------------------------------------------


@contextlib.contextmanager
def running(preload: Sequence[str] = PRELOAD) -> Iterator[str]:
    """A server for the duration of the block; `TWINARCH_FORKSERVER` names it in os.environ (so
    every subprocess started inside inherits it) and is restored afterwards."""
    with tempfile.TemporaryDirectory(prefix="twinarch-forkserver-") as tmp:
        path = str(Path(tmp) / "socket")
        cmd = [sys.executable, "-m", "twinarch.core.forkserver", "--serve", path, *preload]
        server = subprocess.Popen(cmd, start_new_session=True)
        previous = os.environ.get(SOCKET_ENV)
        try:
            deadline = time.monotonic() + 60
            while not Path(path).exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the fork server did not start (exit code {server.poll()})")
                time.sleep(0.05)
            os.environ[SOCKET_ENV] = path
            yield path
        finally:
            if previous is None:
                os.environ.pop(SOCKET_ENV, None)
            else:
                os.environ[SOCKET_ENV] = previous
            server.terminate()
            server.wait()


def run_command(cmd: Sequence[str]) -> int:
    """Run `cmd` with a server beside it; its exit status. Ctrl-C reaches the command (it is in the
    terminal's process group) and this process waits for it to finish."""
    with running():
        proc = subprocess.Popen(list(cmd))
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m twinarch.core.forkserver -- CMD...` (or `--serve SOCKET [MODULE...]`, internal)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--serve"] and len(args) >= 2:
        serve(args[1], args[2:])
        return
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m twinarch.core.forkserver -- COMMAND [ARG...]")
    raise SystemExit(run_command(args))


if __name__ == "__main__":
    main()
