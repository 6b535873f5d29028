"""Adapter: the held-out validation shard of a pretraining stage, plus its stats."""

from dataclasses import asdict

from twinarch.io import atomic_write_json
from twinarch.logs import setup_logging
from twinarch.shards import StagePlan, write_validation_shard
from twinarch.sources import build_sources

setup_logging(snakemake.log[0])  # noqa: F821
plan = StagePlan.from_dict(snakemake.params.plan)  # noqa: F821
stats = write_validation_shard(
    plan,
    build_sources(plan.corpora),
    snakemake.input.tokenizer,  # noqa: F821
    snakemake.output.shard,  # noqa: F821
)
atomic_write_json(snakemake.output.stats, asdict(stats))  # noqa: F821
