"""Adapter: results/figures/learning_curves.{pdf,png} from every pretraining job's metrics.jsonl."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.pretrain.learning_curves import plot_learning_curves

setup_logging(snakemake.log[0])
plot_learning_curves(
    {tuple(key.split("/")): path for key, path in snakemake.input.items()},
    snakemake.params.arms,
    snakemake.params.stages,
    Path(snakemake.output[0]).with_suffix(""),
)
