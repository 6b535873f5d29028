# Stage: pretrain. Each arm's model config and parameter counts, then one job per (arm, seed, stage)
# of every arm's lineage (MLM for encoders, CLM for decoders, the same shards in the same order; the
# first stage draws the arm's seeded random weights itself), and the learning-curve figure.
# Checkpoints live in work/pretrain/{arm}/seed_{seed}/{stage}/ (a param, never an output), so a
# rerun after a failure or a pre-emption resumes.
from twinarch.pretrain.rules import PretrainRules

PRETRAIN = PretrainRules(config, STUDY.lineage)


rule write_model_config:
    input:
        tokenizer=PRETRAIN.model_config_tokenizer,
    output:
        "results/models/{arm}/config.json",
    log:
        "logs/write_model_config/{arm}.log",
    benchmark:
        "logs/benchmarks/write_model_config/{arm}.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRETRAIN.resources("pretrain"),
    params:
        arm=PRETRAIN.model_config_arm,
        models=PRETRAIN.models,
        init_from=PRETRAIN.init_from,
    script:
        "../scripts/write_model_config.py"


rule count_model_params:
    input:
        PRETRAIN.model_configs(),
    output:
        multiext("results/models/param_counts", ".csv", ".md", ".tex"),
    log:
        "logs/count_model_params.log",
    benchmark:
        "logs/benchmarks/count_model_params.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRETRAIN.resources("pretrain"),
    params:
        arms=ARMS,
    script:
        "../scripts/count_model_params.py"


rule pretrain_model:
    input:
        unpack(PRETRAIN.inputs),
    output:
        model=directory("results/pretrain/{arm}/seed_{seed}/{stage}/model"),
        manifest="results/pretrain/{arm}/seed_{seed}/{stage}/manifest.json",
        metrics="results/pretrain/{arm}/seed_{seed}/{stage}/metrics.jsonl",
    log:
        "logs/pretrain_model/{arm}/seed_{seed}/{stage}.log",
    benchmark:
        "logs/benchmarks/pretrain_model/{arm}/seed_{seed}/{stage}.tsv"
    wildcard_constraints:
        seed=PRETRAIN.seed_pattern,
        stage=PRETRAIN.stage_pattern,
    conda:
        CONDA_ENV
    threads: PRETRAIN.threads
    resources:
        **PRETRAIN.resources("pretrain"),
    params:
        run=PRETRAIN.run,
        work_dir=PRETRAIN.work_dir,
    script:
        "../scripts/pretrain_model.py"


rule plot_learning_curves:
    input:
        unpack(PRETRAIN.metrics),
    output:
        multiext("results/figures/learning_curves", ".pdf", ".png"),
    log:
        "logs/plot_learning_curves.log",
    benchmark:
        "logs/benchmarks/plot_learning_curves.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRETRAIN.resources("figures"),
    params:
        arms=PRETRAIN.curve_arms,
        stages=PRETRAIN.stage_names,
    script:
        "../scripts/plot_learning_curves.py"


rule make_pretrain_loss_table:
    input:
        unpack(PRETRAIN.loss_table_inputs),
    output:
        multiext("results/tables/pretrain_losses", ".csv", ".md", ".tex"),
    log:
        "logs/make_pretrain_loss_table.log",
    benchmark:
        "logs/benchmarks/make_pretrain_loss_table.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRETRAIN.resources("figures"),
    params:
        arms=PRETRAIN.curve_arms,
        stages=PRETRAIN.stage_names,
        eval_max_blocks=PRETRAIN.eval_max_blocks,
        scale=PRETRAIN.scale,
    script:
        "../scripts/make_pretrain_loss_table.py"


rule pretrain:
    input:
        PRETRAIN.outputs("manifest.json"),
        "results/tables/pretrain_losses.md",
        "results/models/param_counts.csv",
        "results/figures/learning_curves.pdf",
