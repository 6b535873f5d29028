"""Adapter: the sensitivity figures (head influence against L, position profile) and head-share table."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.sensitivity.report import write_sensitivity_report

setup_logging(snakemake.log[0])
output = snakemake.output
write_sensitivity_report(
    positions=snakemake.input.positions,
    deltas=snakemake.input.deltas,
    manifests=snakemake.input.manifests,
    head_prefix=Path(output.head_pdf).with_suffix(""),
    position_prefix=Path(output.position_pdf).with_suffix(""),
    table_prefix=Path(output.table[0]).with_suffix(""),
    display_names=snakemake.params.display_names,
    stages=snakemake.params.stages,
)
