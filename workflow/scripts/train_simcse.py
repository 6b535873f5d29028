"""Adapter: one unsupervised SimCSE step of one arm with twinarch.llm2vec.run_simcse, on every GPU the job holds."""

from twinarch.core.launch import launch_job
from twinarch.core.logs import setup_logging
from twinarch.llm2vec.config import operational_settings

setup_logging(snakemake.log[0])
output, params = snakemake.output, snakemake.params
spec = {
    **params.run,
    # Intervals and workers come from the config itself, not from a param: editing them retrains nothing.
    "operational": operational_settings(snakemake.config, snakemake.wildcards.step),
    "threads": snakemake.threads,
    "log_file": snakemake.log[0],  # workers append to the rule's log
    "corpora": params.corpora,
    "init_model": params.start,
    "work_dir": params.work_dir,
    "out_model": output.model,
    "out_manifest": output.manifest,
}
launch_job("twinarch.llm2vec.run_simcse", spec, params.work_dir, snakemake.resources)
