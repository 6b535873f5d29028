"""Adapter: write results/manifest.json (every artifact with its config hash, commit, libraries)."""

from twinarch.artifacts import build_manifest
from twinarch.io import atomic_write_json
from twinarch.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821
atomic_write_json(snakemake.output[0], build_manifest(snakemake.config))  # noqa: F821
