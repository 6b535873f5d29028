"""Adapter: contrastive recovery training of one pruned model, on every GPU the job holds."""

from twinarch.core.launch import launch_job
from twinarch.core.logs import setup_logging
from twinarch.embed.config import contrastive_job_spec
from twinarch.prune.config import PruneSection

setup_logging(snakemake.log[0])
spec = contrastive_job_spec(snakemake, PruneSection.from_config(snakemake.config).recovery_operational())
launch_job("twinarch.prune.recover", spec, snakemake.params.work_dir, snakemake.resources)
