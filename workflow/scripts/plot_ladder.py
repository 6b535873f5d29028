"""Adapter: the ladder figure, Table 1's average against non-embedding parameters."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.ladder.report import make_ladder_figure

setup_logging(snakemake.log[0])
make_ladder_figure(
    snakemake.input.stats,
    snakemake.input.param_counts,
    snakemake.params.arms,
    Path(snakemake.output[0]).with_suffix(""),
)
