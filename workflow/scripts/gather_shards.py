"""Adapter: gather a stage's shard stats into its manifest.json."""

from twinarch.core.io import atomic_write_json, read_json
from twinarch.core.logs import setup_logging
from twinarch.data.config import StagePlan
from twinarch.data.shards import build_manifest
from twinarch.data.tokenizer import read_tokenizer_manifest

setup_logging(snakemake.log[0])
manifest = build_manifest(
    StagePlan.from_dict(snakemake.params.plan),
    read_tokenizer_manifest(snakemake.input.tokenizer),
    [read_json(path) for path in snakemake.input.stats],
    read_json(snakemake.input.validation),
)
atomic_write_json(snakemake.output[0], manifest)
