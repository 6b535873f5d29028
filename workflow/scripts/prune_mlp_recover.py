"""Adapter: contrastive recovery training of one pruned model, on every GPU the job holds."""

from twinarch.core.launch import launch_job
from twinarch.core.logs import setup_logging
from twinarch.prune.config import PruneSection

setup_logging(snakemake.log[0])
params = snakemake.params
spec = {
    "arm": params.arm,
    "stage": params.stage,
    # Intervals and workers come from the config itself, not from a param: editing them retrains nothing.
    "operational": PruneSection.from_config(snakemake.config).recovery_operational(),
    "seed": params.seed,
    "device": params.device,
    "threads": snakemake.threads,
    "log_file": snakemake.log[0],  # workers append to the rule's log
    "init_model": snakemake.input.model,
    "data_dir": snakemake.input.data,
    "data_manifest": snakemake.input.data_manifest,
    "work_dir": params.work_dir,
    "out_model": snakemake.output.model,
    "out_manifest": snakemake.output.manifest,
}
launch_job("twinarch.prune.recover", spec, params.work_dir, snakemake.resources)
