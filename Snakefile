# twinarch: encoder or decoder for sentence embeddings, under the same conditions.
# Thin on purpose: config and its validation, includes (one file per stage), named targets.
import os
import sys

from snakemake.utils import min_version

min_version("9.27")

sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from twinarch.config import export_package_path, validate_config

# Jobs in conda envs or on cluster nodes import twinarch from this checkout.
export_package_path()


configfile: "config/config.yaml"


# Snakemake's own validator against workflow/schemas/config.schema.yaml (defaults filled in),
# plus the cross-references a JSON schema cannot express; errors name the config key.
validate_config(config, source="config (after --configfile/--config)")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/figures.smk"
