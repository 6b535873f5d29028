# Input, param and thread functions of the profile and quality stages (kept apart from their
# rules, as `snakemake --lint` asks). They only hand config values to the tested package.
import os

from twinarch.config import resolve_path
from twinarch.profile_config import check_profile_section, check_quality_section

# Cross-key checks (table2 cell in the grid, baseline arm, measured stages) fail here, at parse time.
check_profile_section(config)
check_quality_section(config)

QUALITY_ESTAGES = config["quality"]["estages"]


def local_source_files(source):
    """A text source's local file as an input (so the workflow builds a results/ file first); a
    hub dataset is no file."""
    return [resolve_path(config, source["path"])] if source.get("path") else []


def profile_section(wildcards):
    return config["profile"]


def quality_section(wildcards):
    return config["quality"]


def device_section(wildcards):
    return config["device"]


def study_seed(wildcards):
    return config["seed"]


def embed_normalize(wildcards):
    """Whether embedding models end in Normalize: profiled models are built like the trained ones."""
    return config["embed"]["normalize"]


def data_root(wildcards):
    return config["data_root"]


def profile_text_files(wildcards):
    return local_source_files(config["profile"]["texts"])


def quality_text_files(wildcards):
    section = config["quality"]
    return local_source_files(section["positive_pairs"]) + local_source_files(
        section["random_texts"]
    )


def tokenizer_source(arm):
    """The shared tokenizer for arms we pretrain; a pretrained arm brings its own."""
    if arm.init == "pretrained":
        return resolve_path(config, str(arm.init_from))
    return "results/tokenizer"


def profile_tokenizer_files(wildcards):
    """The shared tokenizer as an input when some arm uses it (a pretrained arm's own is no file we build)."""
    arms = [twinarch_config.get_arm(config, name) for name in ARMS]
    return (
        ["results/tokenizer"] if any(arm.init != "pretrained" for arm in arms) else []
    )


def arm_tokenizer_sources(wildcards):
    return [tokenizer_source(twinarch_config.get_arm(config, name)) for name in ARMS]


def arm_sections(wildcards):
    """Every arm's config entry in ARMS order (the order of the rule's outputs)."""
    return [arm_section(name) for name in ARMS]


def profile_threads(wildcards):
    """Every core unless the config says otherwise; Snakemake caps it at --cores, so locally the
    profiling job runs alone and no other job shares its timings."""
    return config["profile"]["threads"] or os.cpu_count() or 1


def arm_order(wildcards):
    return ARMS
