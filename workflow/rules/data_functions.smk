# Input and param functions of the data stage (kept apart from its rules, as `snakemake --lint`
# asks). They only hand config values to the tested package.
from twinarch.shards import stage_plan
from twinarch.sources import corpus_input_files, resolved_corpus_specs
from twinarch.tokenizer import (
    tokenizer_corpus_names,
    tokenizer_input_paths,
    tokenizer_section,
)

import re

SHARD_STAGES = [stage["name"] for stage in config["pretrain"]["stages"]]
SHARD_STAGE_PATTERN = "|".join(re.escape(name) for name in SHARD_STAGES)


def synthetic_section(wildcards):
    """The `synthetic` section: editing it regenerates the demo data."""
    return config["synthetic"]


def data_seed(wildcards):
    return config["seed"]


def tokenizer_params(wildcards):
    return tokenizer_section(config)


def tokenizer_corpora(wildcards):
    """Resolved specs of the corpora a trained tokenizer learns from."""
    return resolved_corpus_specs(config, tokenizer_corpus_names(config))


def tokenizer_inputs(wildcards):
    return tokenizer_input_paths(config)


def shard_plan(wildcards):
    """Everything a shard job of this stage needs: seq_len, seed, resolved corpora, shards section."""
    return stage_plan(config, wildcards.stage)


def shard_corpus_files(wildcards):
    return corpus_input_files(shard_plan(wildcards)["corpora"])
