"""Adapter: write the demo's synthetic data files (results/data/synthetic/)."""

from twinarch.core.logs import setup_logging
from twinarch.data.synthetic import SYNTHETIC_FILES, SyntheticConfig, generate_synthetic_data

setup_logging(snakemake.log[0])
generate_synthetic_data(
    SyntheticConfig.from_dict(snakemake.params.synthetic),
    snakemake.params.seed,
    {role: getattr(snakemake.output, role) for role in SYNTHETIC_FILES},
)
