# Input and param functions of the pretrain stage (workflow/rules/pretrain.smk).
from twinarch.config import get_arm, resolve_path
from twinarch.pretrain_config import previous_stage, scratch_arm_stages

PRETRAIN_JOBS = scratch_arm_stages(config)


def models_section(wildcards):
    """The `models` section: editing it rebuilds every model config (and what depends on them)."""
    return config["models"]


def arm_init_from(wildcards):
    """The hub id or local directory of a pretrained arm (`{data_root}` expanded), else None."""
    arm = get_arm(config, wildcards.arm)
    return resolve_path(config, arm.init_from) if arm.init_from else None


def arm_tokenizer(wildcards):
    """Scratch arms are built on the shared tokenizer; pretrained arms bring their own."""
    return (
        []
        if get_arm(config, wildcards.arm).init == "pretrained"
        else "results/tokenizer"
    )


def pretrain_inputs(wildcards):
    """Shards and tokenizer of the stage, the arm's config, and the previous stage's model."""
    inputs = {
        "shards": f"results/shards/{wildcards.stage}/manifest.json",
        "validation": f"results/shards/{wildcards.stage}/validation.npy",
        "tokenizer": "results/tokenizer",
        "model_config": f"results/models/{wildcards.arm}/config.json",
    }
    previous = previous_stage(config, wildcards.arm, wildcards.stage)
    if previous:
        inputs["init_model"] = f"results/pretrain/{wildcards.arm}/{previous}/model"
    return inputs


def pretrain_spec(wildcards):
    """Every config value that shapes one (arm, stage) run; editing any re-runs only its jobs."""
    return {
        "arm": dict(get_arm(config, wildcards.arm).__dict__),
        "stage": wildcards.stage,
        "pretrain": config["pretrain"],
        "device": config["device"],
        "seed": config["seed"],
    }


def pretrain_work_dir(wildcards):
    return f"work/pretrain/{wildcards.arm}/{wildcards.stage}"


def pretrain_metrics(wildcards):
    return {
        f"{arm}/{stage}": f"results/pretrain/{arm}/{stage}/metrics.jsonl"
        for arm, stage in PRETRAIN_JOBS
    }


def pretrain_stage_names(wildcards):
    return [stage["name"] for stage in config["pretrain"]["stages"]]


def arm_entries(wildcards):
    return config["arms"]
