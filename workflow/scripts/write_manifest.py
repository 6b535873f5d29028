"""Adapter: write results/manifest.json (every artifact with its config hash, commit, libraries)."""

from twinarch.core.io import atomic_write_json
from twinarch.core.logs import setup_logging
from twinarch.study.artifacts import build_manifest

setup_logging(snakemake.log[0])
atomic_write_json(snakemake.output[0], build_manifest(snakemake.config))
