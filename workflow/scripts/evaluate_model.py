"""Adapter: score one embedding model on every task with mteb (a tidy row per task, per-example scores beside it)."""

from twinarch.core.logs import setup_logging
from twinarch.evaluate.scoring import evaluate_model

setup_logging(snakemake.log[0])
evaluate_model(
    snakemake.input.model,
    snakemake.output.rows,
    arm=snakemake.wildcards.arm,
    replicate=int(snakemake.wildcards.seed),
    stage=snakemake.wildcards.estage,
    entries=snakemake.params.tasks,
    settings=snakemake.params.settings,
    device=snakemake.params.device,
    seed=snakemake.params.seed,
    cache_dir=snakemake.params.cache,
    threads=snakemake.threads,
)
