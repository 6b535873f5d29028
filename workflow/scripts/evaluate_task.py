"""Adapter: score one embedding model on one task with mteb (results/evaluate/{arm}/{estage}/{task}.json)."""

from twinarch.core.logs import setup_logging
from twinarch.evaluate.scoring import evaluate_model

setup_logging(snakemake.log[0])
evaluate_model(
    snakemake.input.model,
    snakemake.output[0],
    arm=snakemake.wildcards.arm,
    stage=snakemake.wildcards.estage,
    entry=snakemake.params.task,
    settings=snakemake.params.settings,
    device=snakemake.params.device,
    seed=snakemake.params.seed,
    cache_dir=snakemake.params.cache,
    threads=snakemake.threads,
)
