"""Snakemake adapter: one contrastive stage of one arm, on every GPU the job holds."""

from pathlib import Path

from twinarch.launch import launch
from twinarch.logs import setup_logging
from twinarch.resources import num_nodes, processes_per_node

setup_logging(snakemake.log[0])
params = snakemake.params
spec = {
    "arm": params.arm,
    "stage": params.stage,
    "seed": params.seed,
    "device": params.device,
    "threads": snakemake.threads,
    "init_model": snakemake.input.model,
    "data_dir": snakemake.input.data,
    "data_manifest": snakemake.input.data_manifest,
    "work_dir": params.work_dir,
    "out_model": snakemake.output.model,
    "out_manifest": snakemake.output.manifest,
}
launch(
    "twinarch.embed",
    spec,
    Path(params.work_dir) / "spec.json",
    nproc_per_node=processes_per_node(snakemake.resources),
    nnodes=num_nodes(snakemake.resources),
)
