"""Snakemake adapter: one contrastive stage's datasets, normalized, shared by every arm."""

from twinarch.core.logs import setup_logging
from twinarch.embed.config import EmbedStage
from twinarch.embed.data import write_stage_datasets

setup_logging(snakemake.log[0])
params = snakemake.params
write_stage_datasets(
    EmbedStage.from_dict(params.stage, {"data_root": params.data_root}),
    seed=params.seed,
    out_dir=snakemake.output.data,
    manifest_path=snakemake.output.manifest,
    config_fragment={"stage": params.stage, "seed": params.seed},
)
