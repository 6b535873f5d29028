"""Adapter: encode throughput of every arm's unpruned and pruned models, interleaved in one job."""

from twinarch.core.logs import setup_logging
from twinarch.prune.speed import SpeedJob, measure_speeds

setup_logging(snakemake.log[0])
params = snakemake.params
measure_speeds(
    [SpeedJob(arm=job["arm"], k=job["k"], model_dir=d) for job, d in zip(params.jobs, snakemake.input.models)],
    profile_section=params.profile,
    device_section=params.device,
    data_root=params.data_root,
    seed=params.seed,
    threads=snakemake.threads,
    seq_len=params.throughput["seq_len"],
    batch_size=params.throughput["batch_size"],
    out_csv=snakemake.output[0],
    fragment={"jobs": params.jobs, "profile": params.profile, "throughput": params.throughput},
)
