"""Adapter: Table 2 (throughput, memory, speedup at the reference cell) from every arm's profile CSV."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.profile.report import read_profiles, write_table2

setup_logging(snakemake.log[0])
section = snakemake.params.profile
write_table2(
    read_profiles(snakemake.input, snakemake.params.display_names),
    Path(snakemake.output[0]).with_suffix(""),
    mode=section["report_mode"],
    seq_len=section["table2_cell"]["seq_len"],
    batch_size=section["table2_cell"]["batch_size"],
    baseline_arm=section["baseline_arm"],
    note=section["table2_note"],
)
