"""Adapter: write results/models/{arm}/config.json, the Hugging Face config the arm is built from."""

from twinarch.core.logs import setup_logging
from twinarch.pretrain.models import arm_model_config, write_model_config

setup_logging(snakemake.log[0])
write_model_config(
    arm_model_config(
        snakemake.params.arm,
        snakemake.params.models,
        snakemake.input.tokenizer or None,
        snakemake.params.init_from,
    ),
    snakemake.output[0],
)
