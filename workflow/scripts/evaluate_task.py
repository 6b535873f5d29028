"""Adapter: score one embedding model on one task with mteb (results/evaluate/{arm}/{estage}/{task}.json)."""

from twinarch.evaluate import evaluate_model
from twinarch.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821
evaluate_model(
    snakemake.input.model,  # noqa: F821
    snakemake.output[0],  # noqa: F821
    arm=snakemake.params.arm,  # noqa: F821
    stage=snakemake.wildcards.estage,  # noqa: F821
    entry=snakemake.params.task,  # noqa: F821
    settings=snakemake.params.settings,  # noqa: F821
    device=snakemake.params.device,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    cache_dir=snakemake.params.cache,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)
