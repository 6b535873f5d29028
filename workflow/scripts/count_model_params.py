"""Adapter: write a parameter-count table ({csv,md,tex}) from each of the rule's arms' config.json
(results/models/param_counts for the paper's arms, results/ladder/param_counts for the ladder's)."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.pretrain.models import write_param_counts

setup_logging(snakemake.log[0])
write_param_counts(
    dict(zip(snakemake.params.arms, snakemake.input)),
    Path(snakemake.output[0]).with_suffix(""),
)
