"""Adapter: read every input the study will read, completely, before the work that needs it."""

from twinarch.core.logs import setup_logging
from twinarch.study.inputs import check_inputs

setup_logging(snakemake.log[0])
check_inputs(snakemake.config, snakemake.output[0])
