"""Adapter: figure of MLP importance by layer, one line per pruned arm."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.prune.report import plot_importance

setup_logging(snakemake.log[0])
plot_importance(snakemake.input, Path(snakemake.output[0]).with_suffix(""), snakemake.params.display_names)
