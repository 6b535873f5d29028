"""Adapter: Figure 3, throughput against batch size per sequence length, from the profile CSVs."""

from pathlib import Path

from twinarch.logs import setup_logging
from twinarch.profile_report import plot_fig3, read_profiles

setup_logging(snakemake.log[0])  # noqa: F821
plot_fig3(
    read_profiles(snakemake.input, snakemake.params.arms),  # noqa: F821
    Path(snakemake.output[0]).with_suffix(""),  # noqa: F821
    mode=snakemake.params.profile["report_mode"],  # noqa: F821
)
