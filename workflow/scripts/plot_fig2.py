"""Adapter: Figure 2, alignment against uniformity of every arm's pretrain-only and fine-tuned model."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.quality.report import plot_fig2, read_quality

setup_logging(snakemake.log[0])
plot_fig2(
    read_quality(snakemake.input),
    Path(snakemake.output[0]).with_suffix(""),
    snakemake.params.display_names,
)
