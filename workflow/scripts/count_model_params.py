"""Adapter: write results/models/param_counts.{csv,md,tex} from every arm's config.json."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.pretrain.models import write_param_counts

setup_logging(snakemake.log[0])
write_param_counts(
    dict(zip(snakemake.params.arms, snakemake.input)),
    Path(snakemake.output[0]).with_suffix(""),
)
