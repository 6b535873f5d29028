"""Adapter: an arm's seeded random initial weights -> results/pretrain/{arm}/seed_{seed}/init/model."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.pretrain.models import initialize_model

setup_logging(snakemake.log[0])
initialize_model(
    Path(snakemake.input.model_config).parent,
    snakemake.input.tokenizer,
    snakemake.params.family,
    snakemake.params.seed,
    snakemake.output[0],
)
