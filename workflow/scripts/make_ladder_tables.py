"""Adapter: the ladder table (every Table 1 column) and the cross-objective table of each size."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.ladder.report import make_ladder_tables

setup_logging(snakemake.log[0])
params = snakemake.params
make_ladder_tables(
    snakemake.input.stats,
    snakemake.input.param_counts,
    snakemake.input.losses,
    params.arms,
    Path(snakemake.output[0]).with_suffix(""),
    params.cross_prefixes,
    params.scale,
    params.mlm_probability,
)
