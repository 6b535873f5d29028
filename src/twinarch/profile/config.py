"""Typed view of the `profile` config section and its checks (schema: workflow/schemas/profile.schema.yaml).

Free of heavy imports (no torch): the checks run at parse time, so a bad table2 cell fails before
any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.data.text_samples import TextSource

MODES = ("forward", "encode")
# What Table 2 and Figures 3-4 read of a profile row.
REPORTED_COLUMNS = (
    "arm",
    "family",
    "mode",
    "seq_len",
    "batch_size",
    "status",
    "samples_per_s",
    "samples_per_s_low",
    "samples_per_s_high",
    "rounds",
    "peak_memory_mb",
)
# Column order of results/profile/{arm}.csv: what the reports read, then the rest of the
# measurement and what made it.
PROFILE_COLUMNS = (
    *REPORTED_COLUMNS,
    "ms_per_sample",
    "tokens_per_s",
    "ms_per_batch",
    "ms_per_batch_std",
    "timed_iters",
    "reserved_memory_mb",
    "memory_measure",
    "bidirectional",
    "pooling",
    "parameters",
    "device",
    "device_name",
    "dtype",
    "attn_implementation",
    "torch_threads",
    "torch_version",
    "transformers_version",
    "sentence_transformers_version",
    "flash_attn_version",
    "config_hash",
    "git_commit",
)


# Keys of the `profile` section that only the reports read (Table 2's cell and note, the baseline
# of its speedups, which timing Figures 3-4 show): the measuring job never gets them, so editing
# them remakes the table and figures, not the measurements.
REPORT_KEYS = ("baseline_arm", "report_mode", "table2_cell", "table2_note")


@dataclass(frozen=True)
class ProfileSettings:
    """What the measuring job reads of the `profile` section (workflow/schemas/profile.schema.yaml)."""

    seq_lens: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    modes: tuple[str, ...]
    warmup_iters: int
    timed_iters: int
    rounds: int
    texts: TextSource
    threads: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], data_root: str) -> ProfileSettings:
        return cls(
            seq_lens=tuple(sorted(section["seq_lens"])),
            batch_sizes=tuple(sorted(section["batch_sizes"])),
            modes=tuple(section["modes"]),
            warmup_iters=section["warmup_iters"],
            timed_iters=section["timed_iters"],
            rounds=section["rounds"],
            texts=TextSource.from_config("profile.texts", section["texts"], data_root),
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
