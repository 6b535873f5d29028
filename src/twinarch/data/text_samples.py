"""The texts that throughput profiling and the embedding-quality metrics run on.

Both stages read a seeded sample of rows from a local JSON Lines file (the demo's synthetic files,
the miniature Japanese data) or from a Hugging Face dataset (the paper's MIRACL and Wikipedia), so
one small reader serves them: `TextSource` for single texts, `PairSource` for positive pairs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core import hub
from twinarch.core.config import ConfigError, resolve_path
from twinarch.core.io import DataError, iter_jsonl
from twinarch.core.splits import Holdout


class ShortList(LookupError):
    """A dotted field indexes past the end of a list the row has: the row has too few items
    (a MIRACL query with one positive passage where a pair needs two) and is skipped."""


def get_field(row: Mapping[str, Any], dotted: str) -> Any:
    """`row["a"][0]["b"]` for `a.0.b`: hub datasets nest the text we need (MIRACL's positives).

    Raises KeyError when the field does not exist (a config error) and ShortList when a list is
    too short for the index (a row to skip)."""
    value: Any = row
    for part in dotted.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) >= len(value):
            raise ShortList(dotted)
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(dotted) from None
    return value


@dataclass(frozen=True)
class RowSource:
    """Where rows come from: exactly one of a local `path` or a hub `dataset` (+ `name`, `split`,
    `revision`; read from the hub mirror when it holds a copy, twinarch.core.hub)."""

    key: str
    path: str | None = None
    dataset: str | None = None
    name: str | None = None
    split: str = "train"
    revision: str | None = None
    max_rows: int = 1000
    holdout: Holdout | None = None

    @staticmethod
    def common_kwargs(key: str, raw: Mapping[str, Any], data_root: str) -> dict[str, Any]:
        if bool(raw.get("path")) == bool(raw.get("dataset")):
            raise ConfigError(f"config key '{key}': give exactly one of 'path' and 'dataset'")
        return {
            "key": key,
            "path": resolve_path({"data_root": data_root}, raw["path"]) if raw.get("path") else None,
            "dataset": raw.get("dataset"),
            "name": raw.get("name"),
            "split": raw.get("split", "train"),
            "revision": raw.get("revision"),
            "max_rows": int(raw.get("max_rows", 1000)),
            "holdout": Holdout.from_dict(raw.get("holdout")),
        }

    @property
    def origin(self) -> str:
        return self.path or f"hub dataset {self.dataset}" + (f"/{self.name}" if self.name else "") + f" [{self.split}]"

    def _rows(self, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(where, row) pairs; `where` names file and line (or dataset and row) for error messages."""
        if self.path:
            for lineno, row in enumerate(iter_jsonl(self.path), start=1):
                yield f"{self.path}:{lineno}", row
            return
        from datasets import load_dataset

        # Streaming: the paper's Wikipedia split is far larger than the sample we need.
        stream = load_dataset(
            hub.resolve(str(self.dataset)), self.name, split=self.split, revision=self.revision, streaming=True
        )
        for i, row in enumerate(stream.shuffle(seed=seed, buffer_size=10_000)):
            yield f"{self.origin} row {i}", row

    def sample(self, extract: Any, seed: int) -> list[Any]:
        """A seeded sample of up to `max_rows` values `extract(row)` (None = skip the row).

        Local files are read whole and sampled; hub streams are shuffled with a buffer and cut.
        """
        values = []
        for where, row in self._rows(seed):
            if self.holdout is not None and not self.holdout.keeps(row):
                continue
            try:
                value = extract(row)
            except ShortList:
                continue
            except KeyError as err:
                raise DataError(
                    f"{where}: no field {err} (fields: {sorted(row)}), needed by config key '{self.key}'"
                ) from None
            if value is not None:
                values.append(value)
            if not self.path and len(values) >= self.max_rows:
                break
        if not values:
            raise DataError(f"{self.origin}: no usable rows for config key '{self.key}'")
        if len(values) > self.max_rows:
            values = random.Random(seed).sample(values, self.max_rows)
        return values


@dataclass(frozen=True)
class TextSource(RowSource):
    text_field: str = "text"

    @classmethod
    def from_config(cls, key: str, raw: Mapping[str, Any], data_root: str) -> TextSource:
        return cls(**cls.common_kwargs(key, raw, data_root), text_field=raw.get("text_field", "text"))

    def texts(self, seed: int) -> list[str]:
        def extract(row: Mapping[str, Any]) -> str | None:
            text = get_field(row, self.text_field)
            return text if isinstance(text, str) and text.strip() else None

        return self.sample(extract, seed)


@dataclass(frozen=True)
class PairSource(RowSource):
    """Positive pairs; rows whose `score_field` is below `min_score` are skipped (JSTS labels >= 4)."""

    anchor_field: str = "anchor"
    positive_field: str = "positive"
    score_field: str | None = None
    min_score: float | None = None

    @classmethod
    def from_config(cls, key: str, raw: Mapping[str, Any], data_root: str) -> PairSource:
        if (raw.get("score_field") is None) != (raw.get("min_score") is None):
            raise ConfigError(f"config key '{key}': 'score_field' and 'min_score' go together")
        return cls(
            **cls.common_kwargs(key, raw, data_root),
            anchor_field=raw.get("anchor_field", "anchor"),
            positive_field=raw.get("positive_field", "positive"),
            score_field=raw.get("score_field"),
            min_score=raw.get("min_score"),
        )

    def pairs(self, seed: int) -> list[tuple[str, str]]:
        def extract(row: Mapping[str, Any]) -> tuple[str, str] | None:
            if self.score_field is not None and float(get_field(row, self.score_field)) < float(self.min_score):
                return None
            anchor, positive = get_field(row, self.anchor_field), get_field(row, self.positive_field)
            if not (isinstance(anchor, str) and isinstance(positive, str) and anchor.strip() and positive.strip()):
                return None
            return anchor, positive

        return self.sample(extract, seed)
