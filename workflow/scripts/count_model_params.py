"""Adapter: write results/models/param_counts.{csv,md,tex} from every arm's config.json."""

from pathlib import Path

from twinarch.logs import setup_logging
from twinarch.models import write_param_counts

setup_logging(snakemake.log[0])  # noqa: F821
write_param_counts(
    dict(zip(snakemake.params.arms, snakemake.input)),  # noqa: F821
    Path(snakemake.output[0]).with_suffix(""),  # noqa: F821
)
