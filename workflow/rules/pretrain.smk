# Stage: pretrain. Each arm's model config and parameter counts, then one job per (arm, stage) of
# every scratch arm's lineage (MLM for encoders, CLM for decoders, the same shards in the same
# order), and the learning-curve figure. Checkpoints live in work/pretrain/{arm}/{stage}/ (a param,
# never an output), so a rerun after a failure or a pre-emption resumes.
include: "pretrain_functions.smk"


rule write_model_config:
    input:
        tokenizer=arm_tokenizer,
    output:
        "results/models/{arm}/config.json",
    log:
        "logs/write_model_config/{arm}.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("pretrain"),
    params:
        arm=arm_config,
        models=models_section,
        init_from=arm_init_from,
    script:
        "../scripts/write_model_config.py"


rule count_model_params:
    input:
        expand("results/models/{arm}/config.json", arm=ARMS),
    output:
        multiext("results/models/param_counts", ".csv", ".md", ".tex"),
    log:
        "logs/count_model_params.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("pretrain"),
    params:
        arms=ARMS,
    script:
        "../scripts/count_model_params.py"


rule pretrain_model:
    input:
        unpack(pretrain_inputs),
    output:
        model=directory("results/pretrain/{arm}/{stage}/model"),
        manifest="results/pretrain/{arm}/{stage}/manifest.json",
        metrics="results/pretrain/{arm}/{stage}/metrics.jsonl",
    log:
        "logs/pretrain_model/{arm}/{stage}.log",
    conda:
        CONDA_ENV
    threads: config["pretrain"]["threads"]
    resources:
        **rule_resources("pretrain"),
    params:
        spec=pretrain_spec,
        work_dir=pretrain_work_dir,
    script:
        "../scripts/pretrain_model.py"


rule plot_learning_curves:
    input:
        unpack(pretrain_metrics),
    output:
        multiext("results/figures/learning_curves", ".pdf", ".png"),
    log:
        "logs/plot_learning_curves.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("figures"),
    params:
        arms=arm_entries,
        stages=pretrain_stage_names,
    script:
        "../scripts/plot_learning_curves.py"


rule pretrain:
    input:
        [
            f"results/pretrain/{arm}/{stage}/manifest.json"
            for arm, stage in PRETRAIN_JOBS
        ],
        "results/models/param_counts.csv",
        "results/figures/learning_curves.pdf",
