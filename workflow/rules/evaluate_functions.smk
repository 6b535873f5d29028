# Input, param and thread functions of the evaluate stage (kept apart from its rules, as
# `snakemake --lint` asks). They only hand config values to the tested package.
from twinarch.evaluate import (
    EvaluateSettings,
    evaluation_task_names,
    task_entry,
    task_input_files,
)

# Cross-key checks of the local tasks (the columns their type needs, a corpus) fail here, at
# parse time; the tasks are the mteb benchmark's (listed from its metadata, offline) plus them.
EVAL_STAGES = list(EvaluateSettings.from_config(config).stages)
EVAL_TASKS = evaluation_task_names(config)


def evaluation_task(wildcards):
    """The task's config fragment (paths resolved): editing one task re-runs only its jobs."""
    return task_entry(config, wildcards.task)


def evaluation_task_files(wildcards):
    """Local files the task reads (synthetic ones are made by generate_synthetic_data)."""
    return task_input_files(config, wildcards.task)


def evaluation_settings(wildcards):
    """The evaluate section without its task list (each job gets only its own task)."""
    return {k: v for k, v in config["evaluate"].items() if k != "tasks"}


def evaluation_device(wildcards):
    return config["device"]


def evaluation_seed(wildcards):
    return config["seed"]


def evaluation_threads(wildcards):
    """torch threads of a scoring job: the group's cpus_per_task (else torch takes every core and
    spins against the other jobs)."""
    return int(rule_resources("evaluate").get("cpus_per_task", 1))


def evaluation_cache(wildcards):
    """mteb's own result cache (its JSON), beside the tidy row."""
    return f"results/evaluate/{wildcards.arm}/{wildcards.estage}/{wildcards.task}.mteb"


def evaluation_rows(stages):
    return expand(
        "results/evaluate/{arm}/{estage}/{task}.json",
        arm=ARMS,
        estage=stages,
        task=EVAL_TASKS,
    )


def table1_scale(wildcards):
    return config["scale"]
