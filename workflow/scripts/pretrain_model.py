"""Adapter: pretrain one (arm, stage) with twinarch.pretrain, on every GPU the job holds."""

from pathlib import Path

from twinarch.launch import launch
from twinarch.logs import setup_logging
from twinarch.resources import num_nodes, processes_per_node

setup_logging(snakemake.log[0])  # noqa: F821
inputs, output, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
spec = {
    **params.spec,
    "threads": snakemake.threads,  # noqa: F821
    "paths": {
        "shards_manifest": inputs.shards,
        "tokenizer_dir": inputs.tokenizer,
        "model_config": inputs.model_config,
        "init_model": inputs.get("init_model"),
        "work_dir": params.work_dir,
        "output_model": output.model,
        "output_manifest": output.manifest,
        "output_metrics": output.metrics,
    },
}
launch(
    "twinarch.pretrain",
    spec,
    Path(params.work_dir) / "spec.json",
    nproc_per_node=processes_per_node(snakemake.resources),  # noqa: F821
    nnodes=num_nodes(snakemake.resources),  # noqa: F821
)
