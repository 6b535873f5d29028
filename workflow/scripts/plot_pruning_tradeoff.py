"""Adapter: figure of score against encode speedup for every pruned arm and k."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.prune.report import plot_tradeoff

setup_logging(snakemake.log[0])
plot_tradeoff(snakemake.input[0], Path(snakemake.output[0]).with_suffix(""))
