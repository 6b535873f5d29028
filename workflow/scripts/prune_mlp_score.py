"""Adapter: score one pruned model on every task (a tidy row per task, per-example scores beside it)."""

from twinarch.core.logs import setup_logging
from twinarch.prune.score import score_pruned_model

setup_logging(snakemake.log[0])
params = snakemake.params
score_pruned_model(
    snakemake.input.model,
    snakemake.output.rows,
    arm=snakemake.wildcards.arm,
    replicate=int(snakemake.wildcards.seed),
    stage=params.stage,
    entries=params.tasks,
    settings=params.settings,
    device=params.device,
    seed=params.seed,
    cache_dir=params.cache,
    threads=snakemake.threads,
)
