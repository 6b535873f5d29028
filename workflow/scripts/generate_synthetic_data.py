"""Adapter: write the demo's synthetic data files (results/data/synthetic/)."""

from twinarch.logs import setup_logging
from twinarch.synthetic import SYNTHETIC_FILES, SyntheticConfig, generate_synthetic_data

setup_logging(snakemake.log[0])  # noqa: F821
generate_synthetic_data(
    SyntheticConfig.from_dict(snakemake.params.synthetic),  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    {role: getattr(snakemake.output, role) for role in SYNTHETIC_FILES},  # noqa: F821
)
