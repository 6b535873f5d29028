"""Snakemake adapter: an arm's pretrain-only embedding model (base network + pooling)."""

from twinarch.config import Arm
from twinarch.embed import build_base_model
from twinarch.logs import setup_logging

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
)
