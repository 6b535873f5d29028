"""Snakemake adapter: one contrastive stage of one arm, on every GPU the job holds."""

from twinarch.core.launch import launch_job
from twinarch.core.logs import setup_logging
from twinarch.embed.config import contrastive_job_spec, operational_settings

setup_logging(snakemake.log[0])
spec = contrastive_job_spec(snakemake, operational_settings(snakemake.config, snakemake.wildcards.estage))
launch_job("twinarch.embed.run", spec, snakemake.params.work_dir, snakemake.resources)
