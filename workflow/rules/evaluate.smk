# Stage: evaluate. One mteb job per (arm, seed, embedding stage), a tidy row per task, then Table 1.
# Tasks are the configured benchmark's (from twinarch.evaluate.benchmarks) plus local tasks.
from twinarch.evaluate.rules import EvaluateRules

EVALUATE = EvaluateRules(config)


# One job per model: every task scored in one process, so that library start-up and model loading
# are paid once per model, not once per task (the demo's models score a task in seconds). Editing
# or adding a task re-scores each model on every task; the rows stay one file per task.
rule evaluate_model:
    input:
        model="results/embed/{arm}/seed_{seed}/{estage}/model",
        data=EVALUATE.all_task_files,
    output:
        rows=EVALUATE.task_outputs(".json"),
        examples=EVALUATE.task_outputs(".examples.json"),
    log:
        "logs/evaluate_model/{arm}/seed_{seed}/{estage}.log",
    benchmark:
        "logs/benchmarks/evaluate_model/{arm}/seed_{seed}/{estage}.tsv"
    wildcard_constraints:
        estage=EVALUATE.stage_pattern,
        seed=EVALUATE.seed_pattern,
    conda:
        CONDA_ENV
    threads: EVALUATE.threads
    resources:
        **EVALUATE.resources("evaluate"),
    params:
        tasks=EVALUATE.task_entries,
        settings=EVALUATE.settings,
        device=EVALUATE.device,
        seed=EVALUATE.seed,
        cache=EVALUATE.cache,
    script:
        "../scripts/evaluate_model.py"


# Models with no training (config.evaluate.baselines, e.g. mteb's BM25): once, on the search tasks;
# the same rows stand for every seed and stage of Table 1.
rule evaluate_baseline:
    input:
        data=EVALUATE.search_task_files,
    output:
        rows=EVALUATE.baseline_outputs(".json"),
        examples=EVALUATE.baseline_outputs(".examples.json"),
    log:
        "logs/evaluate_baseline/{baseline}.log",
    benchmark:
        "logs/benchmarks/evaluate_baseline/{baseline}.tsv"
    wildcard_constraints:
        baseline=EVALUATE.baseline_pattern,
    conda:
        CONDA_ENV
    threads: EVALUATE.threads
    resources:
        **EVALUATE.resources("evaluate"),
    params:
        baseline=EVALUATE.baseline,
        tasks=EVALUATE.search_task_entries,
        settings=EVALUATE.settings,
        seed=EVALUATE.seed,
        cache=EVALUATE.baseline_cache,
    script:
        "../scripts/evaluate_baseline.py"


rule make_table1:
    input:
        rows=EVALUATE.table1_rows,
        pretrain_only_rows=EVALUATE.pretrain_only_rows,
        baseline_rows=EVALUATE.baseline_rows,
    output:
        csv="results/tables/table1.csv",
        md=report(
            "results/tables/table1.md",
            caption="../report/table1.rst",
            category="Tables",
        ),
        tex="results/tables/table1.tex",
        pretrain_only_csv="results/tables/table1_pretrain_only.csv",
        pretrain_only_md=report(
            "results/tables/table1_pretrain_only.md",
            caption="../report/table1.rst",
            category="Tables",
        ),
        pretrain_only_tex="results/tables/table1_pretrain_only.tex",
        paired_csv="results/tables/table1_paired.csv",
        paired_md=report(
            "results/tables/table1_paired.md",
            caption="../report/table1_paired.rst",
            category="Tables",
        ),
        paired_tex="results/tables/table1_paired.tex",
        stats="results/tables/table1_stats.json",
    log:
        "logs/make_table1.log",
    benchmark:
        "logs/benchmarks/make_table1.tsv"
    conda:
        CONDA_ENV
    resources:
        **EVALUATE.resources("figures"),
    params:
        scale=EVALUATE.scale,
        display_names=EVALUATE.display_names,
        resampling=EVALUATE.resampling,
        seed=EVALUATE.seed,
        pairs=EVALUATE.pairs,
    script:
        "../scripts/make_table1.py"


# An extension study's Table 1 (results/tables/table1_<study>.*): its arms beside the paper's.
rule make_study_table1:
    input:
        rows=EVALUATE.study_table1_rows,
        pretrain_only_rows=EVALUATE.study_pretrain_only_rows,
        baseline_rows=EVALUATE.baseline_rows,
    output:
        csv="results/tables/table1_{study}.csv",
        md="results/tables/table1_{study}.md",
        tex="results/tables/table1_{study}.tex",
        pretrain_only_csv="results/tables/table1_{study}_pretrain_only.csv",
        pretrain_only_md="results/tables/table1_{study}_pretrain_only.md",
        pretrain_only_tex="results/tables/table1_{study}_pretrain_only.tex",
        paired_csv="results/tables/table1_{study}_paired.csv",
        paired_md="results/tables/table1_{study}_paired.md",
        paired_tex="results/tables/table1_{study}_paired.tex",
        stats="results/tables/table1_{study}_stats.json",
    log:
        "logs/make_study_table1/{study}.log",
    benchmark:
        "logs/benchmarks/make_study_table1/{study}.tsv"
    wildcard_constraints:
        study=EVALUATE.study_pattern,
    conda:
        CONDA_ENV
    resources:
        **EVALUATE.resources("figures"),
    params:
        scale=EVALUATE.scale,
        display_names=EVALUATE.display_names,
        resampling=EVALUATE.resampling,
        seed=EVALUATE.seed,
        pairs=EVALUATE.pairs,
    script:
        "../scripts/make_table1.py"


rule evaluate:
    input:
        EVALUATE.rows(EVALUATE.stages),
