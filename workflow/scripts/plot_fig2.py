"""Adapter: Figure 2, alignment against uniformity of every arm's pretrain-only and fine-tuned model."""

from pathlib import Path

from twinarch.logs import setup_logging
from twinarch.quality_report import plot_fig2, read_quality

setup_logging(snakemake.log[0])  # noqa: F821
plot_fig2(
    read_quality(snakemake.input),  # noqa: F821
    Path(snakemake.output[0]).with_suffix(""),  # noqa: F821
    snakemake.params.arms,  # noqa: F821
)
