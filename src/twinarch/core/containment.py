"""Text containment: keeping evaluation texts out of training.

The study's scores mean nothing if an evaluation sentence, query or document was pretrained or
contrastively trained on. Held-out splits by id (twinarch.core.splits) cover documents that share an
id; real data also repeats texts under different ids (JSTS captions recur across its splits, livedoor
re-posts articles, NIILC's evidence sentences sit inside Wikipedia paragraphs that JaQuAD trains
on). So a training source may `exclude` the texts of evaluation files: a training text that equals
or contains one of them is dropped and counted. `twinarch.study.overlap` audits a whole config with
the same index.

Hand-written because no library checks containment across these sources. Containment is found
through sentences: a text is indexed by its longest sentence, and a training text is compared only
with the indexed texts whose longest sentence it holds, so the check is exact yet linear in the data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinarch.core.io import DataError, iter_jsonl
from twinarch.core.splits import Holdout

SENTENCE_END = re.compile(r"[。！？!?\n]+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def _normalized(text: str) -> str:
    return " ".join(sentences(text))


class ContainmentIndex:
    """Texts to look for inside other texts (equal counts as inside)."""

    def __init__(self, texts: Iterable[tuple[str, str]]) -> None:
        self._by_probe: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for label, text in texts:
            parts = sentences(text)
            if parts:
                self._by_probe[max(parts, key=len)].append((label, _normalized(text)))

    def found_in(self, text: str) -> list[tuple[str, str]]:
        """(label, text) of every indexed text inside `text`."""
        parts = sentences(text)
        candidates = [c for s in set(parts) for c in self._by_probe.get(s, ())]
        if not candidates:
            return []
        haystack = " ".join(parts)
        return [(label, needle) for label, needle in candidates if needle in haystack]

    def contains_any(self, *texts: Any) -> bool:
        return any(isinstance(t, str) and self.found_in(t) for t in texts)


@dataclass(frozen=True)
class TextExclusion:
    """Texts of `fields` in a JSON Lines file (optionally one side of a holdout split)."""

    path: str
    fields: tuple[str, ...]
    holdout: Holdout | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TextExclusion:
        return cls(path=raw["path"], fields=tuple(raw["fields"]), holdout=Holdout.from_dict(raw.get("holdout")))

    def texts(self, where: str) -> Iterator[tuple[str, str]]:
        if not Path(self.path).is_file():
            raise DataError(f"{where}: exclude file not found: {self.path}")
        for lineno, row in enumerate(iter_jsonl(self.path), start=1):
            if self.holdout and not self.holdout.keeps(row):
                continue
            for field in self.fields:
                if field not in row:
                    raise DataError(
                        f"{self.path}:{lineno}: no field '{field}' to exclude ({where}); fields found: {sorted(row)}"
                    )
                if isinstance(row[field], str) and row[field].strip():
                    yield f"{self.path}:{lineno} {field}", row[field]


def exclusion_index(exclusions: Iterable[TextExclusion], where: str) -> ContainmentIndex | None:
    """One index over every excluded text of a training source; None when it excludes nothing."""
    exclusions = list(exclusions)
    if not exclusions:
        return None
    return ContainmentIndex(text for e in exclusions for text in e.texts(where))


def parse_exclusions(
    raw: Iterable[Mapping[str, Any]] | None, resolve: Callable[[str], str] = str
) -> tuple[TextExclusion, ...]:
    """The `exclude` list of a config entry, each path passed through `resolve` ({data_root})."""
    return tuple(TextExclusion.from_dict({**e, "path": resolve(e["path"])}) for e in raw or ())
