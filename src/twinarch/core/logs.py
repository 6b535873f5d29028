"""Logging set-up shared by the workflow scripts: one log file per rule, under logs/.

The rule's log is all a cluster user has (Snakemake's own stderr stays on the submit node), so it
must end with whatever stopped the job: `setup_logging` installs an exception hook that writes the
exception and its message, then the traceback, into the log before the process exits.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
log = logging.getLogger("twinarch")


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO, append: bool = False) -> None:
    """Send library and twinarch logs to the rule's log file (and stderr), replacing earlier handlers.

    Python warnings are captured too, so the log says what the libraries complained about. Worker
    processes of a multi-process job append to the log their launcher opened (`append`), each line
    marked with the worker's rank.
    """
    fmt = FORMAT
    rank = os.environ.get("RANK")
    if append and rank is not None:
        fmt = f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s"
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a" if append else "w", encoding="utf-8"))
    logging.basicConfig(level=level, format=fmt, handlers=handlers, force=True)
    logging.captureWarnings(True)
    sys.excepthook = log_uncaught


def log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """The error that stops a job, as the log's last lines: `ERROR ... <Type>: <message>`, then
    the traceback (which ends with the same line)."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    detail = "".join(traceback.format_exception(exc_type, exc, tb)).rstrip()
    log.error("%s: %s\n%s", exc_type.__name__, exc, detail)
    for handler in logging.getLogger().handlers:
        handler.flush()
