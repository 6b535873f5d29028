"""Adapter: results/figures/learning_curves.{pdf,png} from every pretraining job's metrics.jsonl."""

from pathlib import Path

from twinarch.learning_curves import plot_learning_curves
from twinarch.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821
plot_learning_curves(
    {tuple(key.split("/")): path for key, path in snakemake.input.items()},  # noqa: F821
    snakemake.params.arms,  # noqa: F821
    snakemake.params.stages,  # noqa: F821
    Path(snakemake.output[0]).with_suffix(""),  # noqa: F821
)
