"""Adapter: the pruning trade-off table (parameters, encode speedup, Table 1 scores per arm and k)."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.prune.report import make_tradeoff_table

setup_logging(snakemake.log[0])
params = snakemake.params
make_tradeoff_table(
    snakemake.input.rows,
    snakemake.input.manifests,
    snakemake.input.speeds,
    Path(snakemake.output[0]).with_suffix(""),
    **params.report,
    **params.resampling,
    seed=params.seed,
    display_names=params.display_names,
    scale=params.scale,
)
