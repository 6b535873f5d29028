"""Adapter: pretrain one (arm, stage) with twinarch.pretrain.run, on every GPU the job holds."""

from pathlib import Path

from twinarch.core.launch import launch
from twinarch.core.logs import setup_logging
from twinarch.core.resources import num_nodes, processes_per_node
from twinarch.pretrain.config import operational_settings

setup_logging(snakemake.log[0])
inputs, output, params = snakemake.input, snakemake.output, snakemake.params
spec = {
    **params.run,
    # Intervals and workers come from the config itself, not from a param: editing them retrains nothing.
    "operational": operational_settings(snakemake.config, snakemake.wildcards.stage),
    "threads": snakemake.threads,
    "log_file": snakemake.log[0],  # workers append to the rule's log
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
    "twinarch.pretrain.run",
    spec,
    Path(params.work_dir) / "spec.json",
    nproc_per_node=processes_per_node(snakemake.resources),
    nnodes=num_nodes(snakemake.resources),
)
