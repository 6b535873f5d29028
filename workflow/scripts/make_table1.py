"""Adapter: Table 1 and its pretrain-only companion from the tidy evaluation rows."""

from twinarch.core.logs import setup_logging
from twinarch.evaluate.table1 import make_table1

setup_logging(snakemake.log[0])
make_table1(
    snakemake.input.rows,
    snakemake.input.pretrain_only_rows,
    snakemake.input.baseline_rows,
    dict(snakemake.output.items()),
    snakemake.params.scale,
    snakemake.params.display_names,
    **snakemake.params.resampling,
    seed=snakemake.params.seed,
    pairs=snakemake.params.pairs,
)
