"""Adapter: score a baseline with no training on the search tasks (results/evaluate/baselines/{baseline}/)."""

from twinarch.core.logs import setup_logging
from twinarch.evaluate.scoring import evaluate_baseline

setup_logging(snakemake.log[0])
evaluate_baseline(
    snakemake.params.baseline,
    snakemake.output.rows,
    entries=snakemake.params.tasks,
    settings=snakemake.params.settings,
    seed=snakemake.params.seed,
    cache_dir=snakemake.params.cache,
)
