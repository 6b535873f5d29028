"""What every output records about how it was made: config hash, git commit, libraries, device."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from typing import Any

from twinarch.core.config import REPO_ROOT

LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "sentence-transformers",
    "mteb",
    "accelerate",
    "deepspeed",
    "flash-attn",
    "snakemake",
    "numpy",
)


def config_hash(obj: Any) -> str:
    """A short stable hash of any JSON-able config fragment (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


@functools.cache
def git_commit() -> str:
    """HEAD of the repository, suffixed `-dirty` when tracked files differ; 'unknown' outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


@functools.cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_description() -> str:
    """The accelerator if torch sees one, else the CPU model and core count."""
    import os

    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"{n}x {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def provenance(config_fragment: Any) -> dict[str, Any]:
    """The block every manifest embeds under the key `provenance`."""
    return {
        "config_hash": config_hash(config_fragment),
        "git_commit": git_commit(),
        "libraries": library_versions(),
        "device": device_description(),
        "host": platform.node(),
    }
