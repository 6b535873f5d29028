"""Adapter: Table 1 and its pretrain-only companion from the tidy evaluation rows."""

from twinarch.logs import setup_logging
from twinarch.scoring import make_table1

setup_logging(snakemake.log[0])  # noqa: F821
make_table1(
    snakemake.input.rows,  # noqa: F821
    snakemake.input.pretrain_only_rows,  # noqa: F821
    dict(snakemake.output.items()),  # noqa: F821
    snakemake.params.scale,  # noqa: F821
)
