"""Adapter: throughput/memory sweep of every arm's random-init embedding model, interleaved in one
job -> results/profile/{arm}.csv (one per arm)."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.profile.workers import ArmJob, profile_arms

setup_logging(snakemake.log[0])
params = snakemake.params
jobs = [
    ArmJob(
        arm=arm,
        model_config_dir=str(Path(config_file).parent),
        tokenizer_dir=tokenizer,
        out_csv=out,
    )
    for arm, config_file, tokenizer, out in zip(
        params.arms,
        snakemake.input.model_configs,
        params.tokenizers,
        snakemake.output,
    )
]
profile_arms(
    jobs,
    profile_section=params.profile,
    device_section=params.device,
    data_root=params.data_root,
    normalize=params.normalize,
    seed=params.seed,
    threads=snakemake.threads,
)
