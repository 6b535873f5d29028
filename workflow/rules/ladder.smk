# Stage: ladder. Ettin's questions across model sizes: cross-objective continued training
# of the ladder's models (continue_cross_objective: a decoder trained further with MLM, an encoder
# with CLM, by the pretraining script on a pretraining stage's shards), both objectives' validation
# losses of every model of a size with a cross-objective model (make_ladder_losses), the ladder arms'
# parameter counts (count_ladder_params), and the report:
# Table 1's average against non-embedding parameters (plot_ladder), the same per category and the
# cross-objective table of each size (make_ladder_tables). Checkpoints live in
# work/ladder/{arm}/seed_{seed}/{step}/ (a param, never an output), so a rerun after a failure resumes.
from twinarch.ladder.rules import LadderRules

LADDER = LadderRules(config, STUDY.lineage)


rule continue_cross_objective:
    input:
        unpack(LADDER.inputs),
    output:
        model=directory(LADDER.output("model")),
        manifest=LADDER.output("manifest.json"),
        metrics=LADDER.output("metrics.jsonl"),
    log:
        "logs/continue_cross_objective/{arm}/seed_{seed}/{step}.log",
    benchmark:
        "logs/benchmarks/continue_cross_objective/{arm}/seed_{seed}/{step}.tsv"
    wildcard_constraints:
        seed=LADDER.seed_pattern,
        step=LADDER.step_pattern,
    conda:
        CONDA_ENV
    threads: LADDER.threads
    resources:
        **LADDER.resources("pretrain"),
    params:
        run=LADDER.run,
        start=LADDER.start_model,
        work_dir=LADDER.work_dir,
    script:
        "../scripts/continue_cross_objective.py"


rule make_ladder_losses:
    input:
        unpack(LADDER.loss_inputs),
    output:
        LADDER.losses_path(),
    log:
        "logs/make_ladder_losses/{arm}/seed_{seed}.log",
    benchmark:
        "logs/benchmarks/make_ladder_losses/{arm}/seed_{seed}.tsv"
    wildcard_constraints:
        seed=LADDER.seed_pattern,
    conda:
        CONDA_ENV
    threads: LADDER.loss_threads
    resources:
        **LADDER.resources("evaluate"),
    params:
        model=LADDER.loss_model,
        arm=LADDER.loss_arm,
        settings=LADDER.loss_settings,
        masking=LADDER.masking,
        seed=LADDER.seed,
        device=LADDER.device,
    script:
        "../scripts/make_ladder_losses.py"


rule count_ladder_params:
    input:
        LADDER.model_configs(),
    output:
        multiext(LADDER.param_counts(""), ".csv", ".md", ".tex"),
    log:
        "logs/count_ladder_params.log",
    benchmark:
        "logs/benchmarks/count_ladder_params.tsv"
    conda:
        CONDA_ENV
    resources:
        **LADDER.resources("figures"),
    params:
        arms=LADDER.ladder_arms,
    script:
        "../scripts/count_model_params.py"


rule plot_ladder:
    input:
        stats=LADDER.stats(),
        param_counts=LADDER.param_counts(),
    output:
        LADDER.figure(),
    log:
        "logs/plot_ladder.log",
    benchmark:
        "logs/benchmarks/plot_ladder.tsv"
    conda:
        CONDA_ENV
    resources:
        **LADDER.resources("figures"),
    params:
        arms=LADDER.report_arms,
    script:
        "../scripts/plot_ladder.py"


rule make_ladder_tables:
    input:
        stats=LADDER.stats(),
        param_counts=LADDER.param_counts(),
        losses=LADDER.loss_files(),
    output:
        LADDER.tables(),
    log:
        "logs/make_ladder_tables.log",
    benchmark:
        "logs/benchmarks/make_ladder_tables.tsv"
    conda:
        CONDA_ENV
    resources:
        **LADDER.resources("figures"),
    params:
        arms=LADDER.report_arms,
        cross_prefixes=LADDER.cross_prefixes,
        scale=LADDER.scale,
        mlm_probability=LADDER.mlm_probability,
    script:
        "../scripts/make_ladder_tables.py"


rule ladder:
    input:
        LADDER.outputs("manifest.json"),
        LADDER.figure(),
        LADDER.tables(),
