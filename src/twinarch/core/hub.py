"""Hugging Face hub ids read from a local mirror folder when the config names one.

Air-gapped clusters cannot reach the hub; they keep a copy of every repository the config names
under one folder, `<hub_mirror>/<org>/<name>` (what `hf download <org>/<name> --revision <rev>
--local-dir <hub_mirror>/<org>/<name>` writes, `--repo-type dataset` for datasets). Every loader
that takes a hub id passes it through `resolve`, and hands the result to the library as before:
`datasets.load_dataset`, `AutoTokenizer`/`AutoConfig.from_pretrained` and mteb's task loaders take
a local folder wherever they take a hub id and read it through the same code (a dataset folder's
README.md `configs:` block lists its subsets, as on the hub). An id the mirror holds no copy of
stays a hub id.

The folder is the top-level config key `hub_mirror`. `export_hub_mirror` (called by the Snakefile
beside `export_package_path`) hands it to every job, torchrun worker and cluster node through the
environment, so it is not a job param: a mirror holds the same files at the pinned revision, and
switching between it and the hub reruns nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.config import resolve_path

log = logging.getLogger(__name__)

MIRROR_ENV = "TWINARCH_HUB_MIRROR"
# `org/name` as the hub spells repository ids; anything else (a path) is never looked up.
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def mirror_root() -> Path | None:
    """The mirror folder jobs read hub ids from (None: the hub itself)."""
    folder = os.environ.get(MIRROR_ENV)
    return Path(folder) if folder else None


def is_hub_id(name: str) -> bool:
    """`org/name` that is not a local path (a local folder of that name is read as it is)."""
    return bool(HUB_ID.fullmatch(name)) and not Path(name).exists()


def resolve(name: str) -> str:
    """`<mirror>/<org>/<name>` when the mirror holds a copy of hub id `name`; `name` unchanged otherwise."""
    root = mirror_root()
    if root is None or not is_hub_id(name):
        return name
    copy = root / name
    if not copy.is_dir():
        log.info("hub id %s: no copy in the hub mirror %s, reading it from the hub", name, root)
        return name
    log.info("hub id %s: reading the mirror's copy %s", name, copy)
    return str(copy)


def export_hub_mirror(config: Mapping[str, Any]) -> None:
    """Hand the config's `hub_mirror` (`{data_root}` expanded, made absolute) to every job; a config
    without one reads the hub, whatever the calling shell had set."""
    folder = config.get("hub_mirror")
    if folder:
        os.environ[MIRROR_ENV] = str(Path(resolve_path(config, str(folder))).resolve())
    else:
        os.environ.pop(MIRROR_ENV, None)
