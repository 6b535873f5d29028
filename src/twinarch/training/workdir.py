"""A training step's work directory: its checkpoints, and the fingerprint saying which run they are.

Snakemake reruns a job when its params or inputs change, but the Trainer resumes from whatever
checkpoint it finds: a finished run left in `work/` would be "resumed" by the rerun (zero steps)
and its old model written out under the new settings. So every trainer writes a fingerprint into
its work directory (`run.json`): a hash of the config fragment that shapes the training and the
content digests of the model it starts from and of its data. A rerun resumes only when all three
match; otherwise it says which part changed and starts afresh.

Content, not provenance: digests cover weights, model configs and data files, never manifests
(which carry the git commit and host), so committing a fix to a table does not throw away days of
pretraining. Hand-written: neither transformers nor Snakemake ties a checkpoint to its run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.io import atomic_write_json, read_json
from twinarch.core.provenance import config_hash

log = logging.getLogger(__name__)

RUN_FINGERPRINT = "run.json"
CHECKPOINT_PREFIX = "checkpoint"
TRAINER_STATE = "trainer_state.json"
# Files of a model or dataset directory that decide what a run computes. Left out: model cards
# (README.md, dates), pickled TrainingArguments (paths, timestamps), our manifests (git commit,
# host) and the datasets library's cache state (its fingerprints may be random).
CONTENT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".arrow", ".npy")
IGNORED_FILES = ("training_args.bin", "trainer_state.json", "README.md", "state.json")
IGNORED_SUFFIX = "manifest.json"
CHUNK = 1 << 20


def content_digest(path: str | Path | None) -> str | None:
    """SHA-256 of a file, or of a directory's content files (relative paths and bytes, sorted).

    A path that does not exist locally (a hub id) digests to the id itself; None stays None.
    """
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        return f"id:{path}"
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if _is_content(p))
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode("utf-8"))
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _is_content(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix in CONTENT_SUFFIXES
        and path.name not in IGNORED_FILES
        and not path.name.endswith(IGNORED_SUFFIX)
        and not any(part.startswith(".") for part in path.parts)
    )


def run_fingerprint(fragment: Any, inputs: Mapping[str, str | Path | None]) -> dict[str, Any]:
    """What a run is: the hash of its config fragment and the content digest of each input."""
    return {"config": config_hash(fragment), "inputs": {name: content_digest(p) for name, p in sorted(inputs.items())}}


def fingerprint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Which parts of a fingerprint differ, in words (for the log line that explains a fresh start)."""
    changes = ["the training settings"] if old.get("config") != new.get("config") else []
    old_inputs, new_inputs = old.get("inputs", {}), new.get("inputs", {})
    changes += [
        f"input '{k}'" for k in sorted(set(old_inputs) | set(new_inputs)) if old_inputs.get(k) != new_inputs.get(k)
    ]
    return changes or ["the fingerprint format"]


def last_complete_checkpoint(work_dir: str | Path) -> str | None:
    """The newest checkpoint that the Trainer finished writing, or None.

    transformers' `get_last_checkpoint` takes the highest-numbered `checkpoint-*` folder even when a
    kill interrupted its writing, and resuming from it then fails. The Trainer writes
    `trainer_state.json` last, so a checkpoint whose state file parses is complete; older complete
    ones survive until the newer one is done (rotation runs after the save)."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    numbered = []
    for path in work_dir.glob(f"{CHECKPOINT_PREFIX}-*"):
        suffix = path.name.rpartition("-")[2]
        if path.is_dir() and suffix.isdigit():
            numbered.append((int(suffix), path))
    for _, path in sorted(numbered, reverse=True):
        try:
            json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("skipping %s: its writing was interrupted (no readable %s)", path, TRAINER_STATE)
            continue
        return str(path)
    return None


def claim_work_dir(work_dir: str | Path, fingerprint: Mapping[str, Any]) -> None:
    """Make `work_dir` this run's: keep its checkpoints if they are this run's, else empty it.

    Call it on the main process only, before the others look for a checkpoint.
    """
    work = Path(work_dir)
    marker = work / RUN_FINGERPRINT
    if marker.is_file():
        old = read_json(marker)
        if old != dict(fingerprint):
            changed = ", ".join(fingerprint_changes(old, fingerprint))
            log.warning("%s holds checkpoints of another run (%s changed): starting afresh", work, changed)
            shutil.rmtree(work)
    elif work.is_dir() and any(work.glob(f"{CHECKPOINT_PREFIX}-*")):
        log.warning("%s holds checkpoints without a fingerprint: starting afresh", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, dict(fingerprint))


def prepare_work_dir(work_dir: str | Path, fingerprint: Mapping[str, Any], args: Any) -> str | None:
    """The checkpoint this run resumes from (None: from the start), after claiming the work
    directory on the main process; `args` are the run's TrainingArguments (for the process group)."""
    with args.main_process_first(desc="work directory"):
        if args.process_index == 0:
            claim_work_dir(work_dir, fingerprint)
    last = last_complete_checkpoint(work_dir)
    if last:
        log.info("resuming from %s", last)
    return last
