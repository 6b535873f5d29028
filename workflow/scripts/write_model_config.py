"""Adapter: write results/models/{arm}/config.json, the Hugging Face config the arm is built from."""

from twinarch.logs import setup_logging
from twinarch.models import arm_model_config, write_model_config

setup_logging(snakemake.log[0])  # noqa: F821
write_model_config(
    arm_model_config(
        snakemake.params.arm,  # noqa: F821
        snakemake.params.models,  # noqa: F821
        snakemake.input.tokenizer or None,  # noqa: F821
        snakemake.params.init_from,  # noqa: F821
    ),
    snakemake.output[0],  # noqa: F821
)
