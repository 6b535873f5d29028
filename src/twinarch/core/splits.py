"""Deterministic held-out splits shared by every stage.

A document (a livedoor article, a Wikipedia paragraph) that evaluation holds out must be held out of
pretraining and contrastive training too. Deciding by a stable hash of the document's key (not by
row order or a seeded shuffle) gives the same answer in every stage, whatever else the file holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SALT = "twinarch-holdout-v1"


def heldout_fraction_position(key: str) -> float:
    """A stable position in [0, 1) for a key: the first 8 bytes of SHA-256(salt + key)."""
    digest = hashlib.sha256(f"{SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Holdout:
    """`keep: train` keeps rows outside the held-out fraction; `keep: heldout` keeps only those inside.

    The same `field` and `fraction` in two places select complementary, never overlapping rows.
    """

    field: str
    fraction: float
    keep: str = "train"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Holdout | None:
        return cls(**raw) if raw else None

    def keeps(self, row: Mapping[str, Any]) -> bool:
        if self.field not in row:
            raise KeyError(f"holdout field '{self.field}' not in row with fields {sorted(row)}")
        inside = heldout_fraction_position(str(row[self.field])) < self.fraction
        return inside if self.keep == "heldout" else not inside
