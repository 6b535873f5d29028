"""Adapter: train or load the shared tokenizer into results/tokenizer/ (with its manifest)."""

from twinarch.logs import setup_logging
from twinarch.sources import build_sources
from twinarch.tokenizer import TokenizerConfig, build_tokenizer

setup_logging(snakemake.log[0])  # noqa: F821
build_tokenizer(
    TokenizerConfig.from_dict(snakemake.params.tokenizer),  # noqa: F821
    build_sources(snakemake.params.corpora),  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
