"""Adapter: train or load the shared tokenizer into results/tokenizer/ (with its manifest)."""

from twinarch.core.logs import setup_logging
from twinarch.data.config import TokenizerConfig
from twinarch.data.sources import build_sources
from twinarch.data.tokenizer import build_tokenizer

setup_logging(snakemake.log[0])
build_tokenizer(
    TokenizerConfig.from_dict(snakemake.params.tokenizer),
    build_sources(snakemake.params.corpora),
    snakemake.output[0],
)
