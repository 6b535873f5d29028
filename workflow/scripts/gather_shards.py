"""Adapter: gather a stage's shard stats into its manifest.json."""

from twinarch.io import atomic_write_json, read_json
from twinarch.logs import setup_logging
from twinarch.shards import StagePlan, build_manifest
from twinarch.tokenizer import read_tokenizer_manifest

setup_logging(snakemake.log[0])  # noqa: F821
manifest = build_manifest(
    StagePlan.from_dict(snakemake.params.plan),  # noqa: F821
    read_tokenizer_manifest(snakemake.input.tokenizer),  # noqa: F821
    [read_json(path) for path in snakemake.input.stats],  # noqa: F821
    read_json(snakemake.input.validation),  # noqa: F821
)
atomic_write_json(snakemake.output[0], manifest)  # noqa: F821
