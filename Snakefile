# twinarch: encoder or decoder for sentence embeddings, under the same conditions.
# Thin on purpose: config and its validation, includes (one file per stage), named targets.
import os
import sys

from snakemake.utils import min_version

min_version("9.27")

sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from twinarch.core.config import export_package_path, validate_config
from twinarch.core.hub import export_hub_mirror

# Jobs in conda envs or on cluster nodes import twinarch from this checkout.
export_package_path()


# The demo config is the default; a --configfile replaces it instead of being merged over it, so
# no demo corpus or resource leaks into a jmini or paper run.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Snakemake's own validator against workflow/schemas/config.schema.yaml (defaults filled in);
# common.smk then runs the checks across sections (twinarch.study.checks). Errors name the key.
validate_config(config, source="config (after --configfile/--config)")
export_hub_mirror(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/llm2vec.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/ladder.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/study.smk"


# Named targets, one per paper artifact (files listed once, in twinarch.study.artifacts).
rule table1:
    input:
        STUDY.artifact_files("table1"),


rule table2:
    input:
        STUDY.artifact_files("table2"),


rule fig2:
    input:
        STUDY.artifact_files("fig2"),


rule fig3:
    input:
        STUDY.artifact_files("fig3"),


rule fig4:
    input:
        STUDY.artifact_files("fig4"),


rule param_counts:
    input:
        STUDY.artifact_files("param_counts"),


rule learning_curves:
    input:
        STUDY.artifact_files("learning_curves"),


rule pretrain_losses:
    input:
        STUDY.artifact_files("pretrain_losses"),


# The pruning study's own name (`studies: [pruning]`); its stage target is `prune`.
rule pruning:
    input:
        STUDY.artifact_files("pruning"),


rule all:
    default_target: True
    input:
        STUDY.artifact_files(),
        "results/manifest.json",
