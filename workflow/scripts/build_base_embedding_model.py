"""Snakemake adapter: an arm's pretrain-only embedding model (base network + pooling)."""

from twinarch.core.config import Arm
from twinarch.core.logs import setup_logging
from twinarch.embed.run import build_base_model

setup_logging(snakemake.log[0])
params = snakemake.params
build_base_model(
    Arm.from_dict(params.arm),
    params.source,
    snakemake.output.model,
    snakemake.output.manifest,
    normalize=params.settings["normalize"],
    max_seq_length=params.settings["max_seq_length"],
    device=params.device,
    random_init=params.random_init,
)
