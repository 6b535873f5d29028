"""Atomic outputs and line-numbered reading of JSON Lines.

Snakemake treats an existing output as finished, so nothing may appear at its final path until it is
complete: every writer here goes through a temporary sibling and an atomic rename.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# What every table (twinarch.core.tables) and figure (twinarch.core.plotting) is written as.
TABLE_SUFFIXES = (".csv", ".md", ".tex")
FIGURE_SUFFIXES = (".pdf", ".png")


class DataError(ValueError):
    """Bad input data; the message names the file (and line, where there is one)."""


class OutputError(OSError):
    """An output or checkpoint could not be written; the message names the path and the cause."""

    def __str__(self) -> str:
        return str(self.strerror)


# Errors of writing that are the file system's, not the program's: full, over quota, read-only,
# not ours. torch's serializer reports a full disk as a RuntimeError with no path at all, and
# safetensors as its own error type; both are recognised by their messages.
WRITE_ERRNOS = {
    errno.ENOSPC: "no space left",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
}
LIBRARY_WRITE_FAILURES = (
    "iostream error",
    "file write failed",
    "PytorchStreamWriter failed",
    "StorageFull",
    "No space left",
)


def free_bytes(path: Path) -> str:
    """Free space of the file system holding `path` (its nearest existing parent), for messages."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return f"{shutil.disk_usage(candidate).free:,} bytes free on its file system"
    return "free space unknown"


@contextlib.contextmanager
def writing(path: str | Path, what: str = "output") -> Iterator[None]:
    """Turn a failed write under `path` into an OutputError that names the path and the cause
    (disk full, quota, read-only, permissions), whatever library raised it."""
    path = Path(path)
    try:
        yield
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        raise OutputError(
            err.errno, f"{path}: cannot write the {what}: {WRITE_ERRNOS[err.errno]} ({err}); {free_bytes(path)}"
        ) from err
    except Exception as err:
        if not any(marker in str(err) for marker in LIBRARY_WRITE_FAILURES):
            raise
        raise OutputError(
            errno.EIO, f"{path}: writing the {what} failed ({err}); the disk may be full: {free_bytes(path)}"
        ) from err


def _published(tmp: Path, path: Path) -> None:
    """The atomic rename, logged: every rule's log then names what the rule wrote."""
    with writing(path):
        os.replace(tmp, path)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    log.info("wrote %s (%s bytes)", path, f"{size:,}")


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        with writing(path):
            tmp.write_text(text, encoding="utf-8")
        _published(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Any) -> Path:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path that is renamed onto `path` only if the block succeeds."""
    path = Path(path)
    tmp = _tmp_sibling(path, suffix=path.suffix)
    try:
        with writing(path):
            yield tmp
        _published(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `path` only if the block succeeds."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with writing(path):
            yield tmp
            if path.exists():
                shutil.rmtree(path)
        _published(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file; bytes that are not UTF-8 raise a DataError naming
    the file, the line and the byte, where Python's decoder would name neither."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = raw[err.start : err.start + 1]
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 (byte {err.start + 1} of the line is {bad!r}: {err.reason})"
                ) from None


def iter_jsonl_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of a JSON Lines file; a malformed line raises
    DataError naming file and line."""
    path = Path(path)
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}: malformed JSON line ({err.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-blank line; a malformed line raises DataError naming file and line."""
    for _, row in iter_jsonl_lines(path):
        yield row


def iter_tsv(path: str | Path, where: str = "") -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row keyed by the header) of a tab-separated file whose first line is its header.

    A row with more or fewer fields than the header raises a DataError naming the file and line
    (csv.DictReader would fill missing fields with None and collect extra ones under None, and a
    shifted row would be read as other columns). `where` says which config entry reads the file.
    """
    path = Path(path)
    lines = iter_lines(path)
    reader = csv.reader((line for _, line in lines), delimiter="\t")
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: empty file, no header line{f' ({where})' if where else ''}")
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}:{reader.line_num}: {len(row)} tab-separated fields, the header has {len(header)} "
                f"({', '.join(header)}){f'; {where}' if where else ''}"
            )
        yield reader.line_num, dict(zip(header, row, strict=True))


def tsv_header(path: str | Path) -> list[str]:
    for _, line in iter_lines(path):
        return next(csv.reader([line], delimiter="\t"), [])
    return []


def read_records(paths: Iterable[str | Path], keys: Iterable[str], what: str) -> list[dict[str, Any]]:
    """The `keys` of one JSON object per file (the tidy rows stages leave for tables and figures);
    a file without one of them is a DataError naming it, and so is an empty list of files."""
    keys = tuple(keys)
    records = []
    for path in paths:
        row = read_json(path)
        missing = [k for k in keys if k not in row]
        if missing:
            raise DataError(f"{path}: {what} lacks keys {missing}")
        records.append({k: row[k] for k in keys})
    if not records:
        raise DataError(f"no {what}s to aggregate")
    return records


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    text = "".join(line for _, line in iter_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
