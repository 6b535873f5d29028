# Input and param functions of the embed stage (kept apart from the rules, as Snakemake's linter asks).
from twinarch.config import base_model_source as _base_model_source
from twinarch.embed_config import EmbedSection
from twinarch.embed_config import embed_stage_names as _embed_stage_names
from twinarch.embed_config import stage_fragment as _stage_fragment

EMBED = EmbedSection.from_config(config)
EMBED_STAGES = "|".join(EMBED.stage_names)
# Every {estage} of the study, the pretrain-only "base" first.
EMBED_ESTAGES = _embed_stage_names(config)


def embed_stage_config(wildcards):
    """The stage's config, a param: editing it re-runs that stage (and what follows) only."""
    return _stage_fragment(config, wildcards.estage)


def embed_seed(wildcards):
    return config["seed"]


def embed_data_root(wildcards):
    return config["data_root"]


def embed_device(wildcards):
    return config["device"]


def embed_base_settings(wildcards):
    return {
        "normalize": EMBED.normalize,
        "max_seq_length": EMBED.base_max_seq_length,
    }


def contrastive_data_files(wildcards):
    """Local files the stage reads (synthetic ones are built by generate_synthetic_data)."""
    return [
        f for spec in EMBED.stage(wildcards.estage).datasets for f in spec.local_files()
    ]


def base_model_source(wildcards):
    """The pretrained model an arm starts from: a workflow output, a local dir, or a hub id."""
    return _base_model_source(config, wildcards.arm)


def base_model_input(wildcards):
    """The source as an input when it is a path (hub ids are fetched by the job itself)."""
    source = base_model_source(wildcards)
    local = source.startswith("results/") or os.path.isdir(source)
    return [source] if local else []


def previous_embedding_model(wildcards):
    return f"results/embed/{wildcards.arm}/{EMBED.previous(wildcards.estage)}/model"


def embed_work_dir(wildcards):
    """Checkpoints for resuming: a param, never an output (Snakemake deletes failed outputs)."""
    return f"work/embed/{wildcards.arm}/{wildcards.estage}"


def embed_threads(wildcards):
    """CPU threads of a training job: the group's cpus_per_task (torch would otherwise take every
    core and spin against the other jobs)."""
    return int(rule_resources("embed").get("cpus_per_task", 1))
