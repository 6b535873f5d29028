"""Adapter: both objectives' validation losses of one arm's pretrained model in one replicate."""

from twinarch.core.logs import setup_logging
from twinarch.ladder.losses import write_validation_losses

setup_logging(snakemake.log[0])
params = snakemake.params
write_validation_losses(
    params.model,
    params.arm,
    int(snakemake.wildcards.seed),
    snakemake.input.shards,
    params.settings,
    params.masking,
    params.seed,
    params.device,
    snakemake.output[0],
    threads=snakemake.threads,
)
