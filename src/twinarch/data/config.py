"""Typed views of the data stage's config sections (`tokenizer`, `shards`) and the file lists its
rules declare (schema: workflow/schemas/data.schema.yaml).

Free of heavy imports: the workflow reads them at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError, resolve_path
from twinarch.data.sources import corpus_input_files, resolved_corpus_specs


@dataclass(frozen=True)
class TokenizerConfig:
    """The `tokenizer` config section."""

    source: str = "train"
    kind: str = "bpe"
    vocab_size: int = 8000
    train_corpora: tuple[str, ...] | None = None
    max_chars: int = 5_000_000
    pretrained: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TokenizerConfig:
        data = dict(raw)
        if data.get("train_corpora") is not None:
            data["train_corpora"] = tuple(data["train_corpora"])
        return cls(**data)


def tokenizer_section(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `tokenizer` section with `{data_root}` expanded in a local `pretrained` directory."""
    section = dict(config["tokenizer"])
    if section.get("pretrained"):
        section["pretrained"] = resolve_path(config, section["pretrained"])
    return section


def tokenizer_corpus_names(config: Mapping[str, Any]) -> list[str]:
    """The corpora a trained tokenizer learns from: `tokenizer.train_corpora`, else every corpus
    some pretraining stage uses (none for a pretrained tokenizer)."""
    section = config["tokenizer"]
    if section.get("source", "train") != "train":
        return []
    if section.get("train_corpora"):
        return list(section["train_corpora"])
    names = (c for stage in config["pretrain"]["stages"] for c in stage["corpora"])
    return list(dict.fromkeys(names))


def tokenizer_input_paths(config: Mapping[str, Any]) -> list[str]:
    """Local files the tokenizer rule reads: its training corpora, or a local pretrained directory."""
    section = tokenizer_section(config)
    if section.get("pretrained") and Path(section["pretrained"]).is_dir():
        return [section["pretrained"]]
    return corpus_input_files(resolved_corpus_specs(config, tokenizer_corpus_names(config)))


@dataclass(frozen=True)
class ShardsConfig:
    """The `shards` config section."""

    num_shards: int = 4
    validation_fraction: float = 0.01
    validation_max_documents: int = 1000
    batch_documents: int = 1000

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> ShardsConfig:
        return cls(**(raw or {}))


@dataclass(frozen=True)
class StagePlan:
    """Everything a shard job of one pretraining stage needs (passed to it as a rule param)."""

    stage: str
    seq_len: int
    seed: int
    corpora: dict[str, dict[str, Any]]
    shards: ShardsConfig

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StagePlan:
        data = dict(raw)
        data["shards"] = ShardsConfig.from_dict(data.get("shards"))
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_plan(config: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """A `StagePlan` as a plain dict (a rule param) for one `pretrain.stages` entry, read only for
    its `name`, `corpora` and `seq_len`."""
    for entry in config["pretrain"]["stages"]:
        if entry["name"] == stage:
            return {
                "stage": stage,
                "seq_len": entry["seq_len"],
                "seed": config["seed"],
                "corpora": resolved_corpus_specs(config, entry["corpora"]),
                "shards": dict(config["shards"]),
            }
    raise ConfigError(f"config key 'pretrain.stages': no stage named '{stage}'")
