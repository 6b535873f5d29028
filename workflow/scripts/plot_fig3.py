"""Adapter: Figure 3, throughput against batch size per sequence length, from the profile CSVs."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.profile.report import plot_fig3, read_profiles

setup_logging(snakemake.log[0])
plot_fig3(
    read_profiles(snakemake.input, snakemake.params.display_names),
    Path(snakemake.output[0]).with_suffix(""),
    mode=snakemake.params.profile["report_mode"],
)
