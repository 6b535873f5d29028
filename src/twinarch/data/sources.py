"""Text corpora behind one interface: a Hugging Face dataset streamed from the hub, a local file
(JSON Lines, Parquet or plain text), or the demo's generated text.

Every source yields `Document`s with an id that does not depend on how the stream is consumed (a
configured id field, or the record's position in the file or dataset), because the shard and
validation split of a document is decided from its id: every job that reads the corpus must agree.
Sources stream; none holds a corpus in memory.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twinarch.core import hub
from twinarch.core.config import ConfigError, resolve_path
from twinarch.core.containment import ContainmentIndex, TextExclusion, exclusion_index, parse_exclusions
from twinarch.core.io import DataError, iter_jsonl, iter_lines
from twinarch.core.splits import Holdout
from twinarch.data.synthetic import SYNTHETIC_PRETRAIN

log = logging.getLogger(__name__)

LOCAL_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".txt": "txt"}


@dataclass(frozen=True)
class Document:
    id: str
    text: str


class TextSource(Protocol):
    name: str

    def documents(self) -> Iterator[Document]:
        """Documents with non-empty text, in a fixed order."""

    def input_files(self) -> list[str]:
        """Local files the source reads (a workflow rule declares them as inputs)."""


def _fields(raw: str | Iterable[str]) -> tuple[str, ...]:
    return (raw,) if isinstance(raw, str) else tuple(raw)


def join_text_fields(row: Mapping[str, Any], fields: tuple[str, ...], where: str) -> str:
    """The row's text: the named fields joined by a newline (empty ones skipped)."""
    missing = [f for f in fields if f not in row]
    if missing:
        raise DataError(f"{where}: no text field {missing}; fields found: {sorted(row)}")
    return "\n".join(str(row[f]) for f in fields if row[f] not in (None, ""))


@dataclass(frozen=True)
class CorpusFilter:
    """What every corpus does to its rows, wherever they come from: keep one side of a hashed
    holdout, join the text fields, drop empty texts and texts holding an excluded (evaluation) text,
    give each document a stable id, stop after `max_documents` kept documents."""

    name: str
    text_field: tuple[str, ...] = ("text",)
    id_field: str | None = None
    max_documents: int | None = None
    holdout: Holdout | None = None
    exclude: tuple[TextExclusion, ...] = ()

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(where, row) pairs in a fixed order; `where` names the file or dataset and the row."""
        raise NotImplementedError

    @functools.cached_property
    def _excluded(self) -> ContainmentIndex | None:
        """Built once per source: `check_sources` and the real pass both iterate `documents()`."""
        return exclusion_index(self.exclude, f"corpus '{self.name}'")

    def documents(self) -> Iterator[Document]:
        excluded = self._excluded
        kept = dropped = 0
        for number, (where, row) in enumerate(self.rows(), start=1):
            if self.holdout:
                if self.holdout.field not in row:
                    raise DataError(f"{where}: no holdout field '{self.holdout.field}'; fields found: {sorted(row)}")
                if not self.holdout.keeps(row):
                    continue
            text = join_text_fields(row, self.text_field, where)
            if not text.strip():
                continue
            if excluded and excluded.found_in(text):
                dropped += 1
                continue
            if self.id_field:
                if self.id_field not in row:
                    raise DataError(f"{where}: no id field '{self.id_field}'; fields found: {sorted(row)}")
                doc_id = f"{self.name}:{row[self.id_field]}"
            else:
                doc_id = f"{self.name}:{number}"
            yield Document(doc_id, text)
            kept += 1
            if self.max_documents is not None and kept >= self.max_documents:
                break
        if excluded:
            log.info("corpus '%s': %d documents dropped for holding an excluded (evaluation) text", self.name, dropped)


@dataclass(frozen=True)
class LocalCorpus(CorpusFilter):
    """A JSON Lines, Parquet or text file (one document per non-blank line for text files)."""

    path: str = ""
    format: str | None = None

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        suffix = Path(self.path).suffix.lower()
        if suffix not in LOCAL_FORMATS:
            raise ConfigError(
                f"config key 'corpora.{self.name}.format': cannot tell the format of {self.path} from "
                f"its suffix; set format to one of {sorted(set(LOCAL_FORMATS.values()))}"
            )
        return LOCAL_FORMATS[suffix]

    def input_files(self) -> list[str]:
        return [self.path, *(e.path for e in self.exclude)]

    def records(self) -> Iterator[dict[str, Any]]:
        fmt = self.file_format
        if not Path(self.path).is_file():
            raise DataError(f"{self.path}: file not found (corpus '{self.name}')")
        if fmt == "jsonl":
            yield from iter_jsonl(self.path)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(self.path)
            columns = [*self.text_field, *([self.id_field] if self.id_field else [])]
            if self.holdout:
                columns.append(self.holdout.field)
            missing = [c for c in columns if c not in parquet.schema_arrow.names]
            if missing:
                raise DataError(
                    f"{self.path}: no field {missing} (corpus '{self.name}'); fields found: "
                    f"{sorted(parquet.schema_arrow.names)}"
                )
            for batch in parquet.iter_batches(batch_size=1024, columns=sorted(set(columns))):
                yield from batch.to_pylist()
        else:
            for _, line in iter_lines(self.path):
                if line.strip():
                    yield {"text": line.rstrip("\r\n")}

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for number, row in enumerate(self.records(), start=1):
            yield f"{self.path}: record {number} (corpus '{self.name}')", row


@dataclass(frozen=True)
class HfCorpus(CorpusFilter):
    """A Hugging Face dataset, streamed (`datasets.load_dataset(..., streaming=True)`) at a pinned
    revision."""

    dataset: str = ""
    config_name: str | None = None
    split: str = "train"
    revision: str | None = None

    def input_files(self) -> list[str]:
        return [e.path for e in self.exclude]

    def _offline_error(self, reason: str) -> DataError:
        revision = f" --revision {self.revision}" if self.revision else ""
        return DataError(
            f"corpus '{self.name}' streams the Hugging Face dataset '{self.dataset}', which needs the "
            f"hub, but {reason}. Copy it where the hub is reachable into the folder that config key "
            f"'hub_mirror' names (`hf download {self.dataset} --repo-type dataset{revision} --local-dir "
            f"<hub_mirror>/{self.dataset}`), or point the config at the files instead: "
            f"corpora.{self.name}: {{type: local, path: <file>.parquet, text_field: "
            f"{list(self.text_field)}}}"
        )

    def dataset_stream(self) -> Any:
        import datasets
        from huggingface_hub import is_offline_mode

        source = hub.resolve(self.dataset)
        if is_offline_mode() and not Path(source).exists():
            raise self._offline_error("HF_HUB_OFFLINE is set")
        try:
            return datasets.load_dataset(
                source, self.config_name, split=self.split, revision=self.revision, streaming=True
            )
        except ConnectionError as err:
            raise self._offline_error(f"the hub could not be reached ({err})") from err

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for number, row in enumerate(self.dataset_stream(), start=1):
            yield f"Hugging Face dataset '{self.dataset}' row {number} (corpus '{self.name}')", row


def build_source(name: str, spec: Mapping[str, Any]) -> TextSource:
    """The source of one `corpora` entry whose paths are already resolved (`resolved_corpus_specs`)."""
    kind = spec["type"]
    common = {
        "name": name,
        "text_field": _fields(spec.get("text_field", "text")),
        "id_field": spec.get("id_field"),
        "max_documents": spec.get("max_documents"),
        "holdout": Holdout.from_dict(spec.get("holdout")),
        "exclude": parse_exclusions(spec.get("exclude")),
    }
    if kind == "hf":
        return HfCorpus(
            **common,
            dataset=spec["dataset"],
            config_name=spec.get("name"),
            split=spec.get("split", "train"),
            revision=spec.get("revision"),
        )
    if kind == "local":
        return LocalCorpus(**common, path=spec["path"], format=spec.get("format"))
    if kind == "synthetic":
        return LocalCorpus(**{**common, "text_field": ("text",), "id_field": "id"}, path=SYNTHETIC_PRETRAIN)
    raise ConfigError(f"config key 'corpora.{name}.type': unknown source type '{kind}' (hf, local, synthetic)")


def resolved_corpus_specs(config: Mapping[str, Any], names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The named `corpora` entries with `{data_root}` expanded: what a job needs to rebuild them."""
    corpora = config["corpora"]
    specs = {}
    for name in names:
        if name not in corpora:
            raise ConfigError(f"config key 'corpora': unknown corpus '{name}'; config.corpora has {sorted(corpora)}")
        spec = dict(corpora[name])
        if "path" in spec:
            spec["path"] = resolve_path(config, spec["path"])
        if spec.get("exclude"):
            spec["exclude"] = [{**e, "path": resolve_path(config, e["path"])} for e in spec["exclude"]]
        specs[name] = spec
    return specs


def build_sources(specs: Mapping[str, Mapping[str, Any]]) -> list[TextSource]:
    return [build_source(name, spec) for name, spec in specs.items()]


def corpus_input_files(specs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every local file the corpora read, in order and without repeats."""
    files = (f for source in build_sources(specs) for f in source.input_files())
    return list(dict.fromkeys(files))


def check_sources(sources: Iterable[TextSource]) -> None:
    """Fail before expensive work: read each source's first document, which surfaces a missing
    file, an unreadable first line, a missing text field, an unreachable hub or an empty corpus."""
    for source in sources:
        if next(iter(source.documents()), None) is None:
            raise DataError(f"corpus '{source.name}' ({describe(source)}) has no document with text")


def describe(source: TextSource) -> str:
    if isinstance(source, HfCorpus):
        return f"Hugging Face dataset {source.dataset}"
    if isinstance(source, LocalCorpus):
        return f"{source.path}, text field {list(source.text_field)}"
    return type(source).__name__


def iter_documents(sources: Iterable[TextSource]) -> Iterator[Document]:
    """The corpora one after another, in config order."""
    return itertools.chain.from_iterable(s.documents() for s in sources)


def interleave_documents(sources: Iterable[TextSource]) -> Iterator[Document]:
    """One document from each corpus in turn, so that a prefix (a tokenizer's character budget)
    samples every corpus rather than only the first."""
    iterators = [s.documents() for s in sources]
    sentinel = object()
    for batch in itertools.zip_longest(*iterators, fillvalue=sentinel):
        for doc in batch:
            if doc is not sentinel:
                yield doc
