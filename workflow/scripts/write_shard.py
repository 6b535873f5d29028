"""Adapter: one scattered training shard of a pretraining stage, plus its stats for the gather."""

from dataclasses import asdict

from twinarch.core.io import atomic_write_json
from twinarch.core.logs import setup_logging
from twinarch.data.config import StagePlan
from twinarch.data.shards import write_training_shard
from twinarch.data.sources import build_sources

setup_logging(snakemake.log[0])
plan = StagePlan.from_dict(snakemake.params.plan)
stats = write_training_shard(
    plan,
    build_sources(plan.corpora),
    snakemake.input.tokenizer,
    snakemake.wildcards.scatteritem,
    snakemake.output.shard,
)
atomic_write_json(snakemake.output.stats, asdict(stats))
