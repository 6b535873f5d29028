"""Typed views of the `profile` and `quality` config sections, and their cross-key checks.

Kept free of heavy imports (no torch): the profile stage's rule file runs the checks at parse time,
so a bad table2 cell or measured stage fails before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from twinarch.config import ConfigError
from twinarch.embed_config import embed_stage_names
from twinarch.text_samples import PairSource, TextSource

MODES = ("forward", "encode")


@dataclass(frozen=True)
class ProfileSettings:
    """The `profile` config section (workflow/schemas/profile.schema.yaml)."""

    seq_lens: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    modes: tuple[str, ...]
    warmup_iters: int
    timed_iters: int
    rounds: int
    texts: TextSource
    baseline_arm: str
    report_mode: str
    table2_seq_len: int
    table2_batch_size: int
    table2_note: str
    threads: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], data_root: str) -> "ProfileSettings":
        cell = section["table2_cell"]
        return cls(
            seq_lens=tuple(sorted(section["seq_lens"])),
            batch_sizes=tuple(sorted(section["batch_sizes"])),
            modes=tuple(section["modes"]),
            warmup_iters=section["warmup_iters"],
            timed_iters=section["timed_iters"],
            rounds=section["rounds"],
            texts=TextSource.from_config("profile.texts", section["texts"], data_root),
            baseline_arm=section["baseline_arm"],
            report_mode=section["report_mode"],
            table2_seq_len=cell["seq_len"],
            table2_batch_size=cell["batch_size"],
            table2_note=section["table2_note"],
            threads=section["threads"],
        )


def check_profile_section(config: Mapping[str, Any]) -> None:
    """Cross-key checks a JSON schema cannot express; run at parse time, before any job starts."""
    raw = config["profile"]
    cell = raw["table2_cell"]
    if cell["seq_len"] not in raw["seq_lens"] or cell["batch_size"] not in raw["batch_sizes"]:
        raise ConfigError(
            f"config key 'profile.table2_cell': {cell} is not in the grid "
            f"(seq_lens {raw['seq_lens']}, batch_sizes {raw['batch_sizes']})"
        )
    if raw["report_mode"] not in raw["modes"]:
        raise ConfigError(
            f"config key 'profile.report_mode': '{raw['report_mode']}' is not in profile.modes {raw['modes']}"
        )
    arm_names = [a["name"] for a in config["arms"]]
    if raw["baseline_arm"] not in arm_names:
        raise ConfigError(
            f"config key 'profile.baseline_arm': unknown arm '{raw['baseline_arm']}'; arms are {arm_names}"
        )
    TextSource.from_config("profile.texts", raw["texts"], str(config.get("data_root", "")))


@dataclass(frozen=True)
class QualitySettings:
    """The `quality` config section (workflow/schemas/profile.schema.yaml)."""

    estages: tuple[str, ...]
    positive_pairs: PairSource
    random_texts: TextSource
    batch_size: int
    max_seq_length: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], data_root: str) -> "QualitySettings":
        return cls(
            estages=tuple(section["estages"]),
            positive_pairs=PairSource.from_config("quality.positive_pairs", section["positive_pairs"], data_root),
            random_texts=TextSource.from_config("quality.random_texts", section["random_texts"], data_root),
            batch_size=section["batch_size"],
            max_seq_length=section["max_seq_length"],
        )


def check_quality_section(config: Mapping[str, Any]) -> None:
    """Cross-key checks run at parse time: every measured stage is one the embed stage makes."""
    known = embed_stage_names(config)
    for estage in config["quality"]["estages"]:
        if estage not in known:
            raise ConfigError(f"config key 'quality.estages': unknown embedding stage '{estage}'; known: {known}")
    QualitySettings.from_section(config["quality"], str(config.get("data_root", "")))
