# Stage: evaluate. One mteb job per (arm, embedding stage, task), then Table 1 from the tidy rows.
# Tasks are the configured benchmark's (from twinarch.evaluate.benchmarks) plus local tasks.
from twinarch.evaluate.rules import EvaluateRules

EVALUATE = EvaluateRules(config)


rule evaluate_task:
    input:
        model="results/embed/{arm}/{estage}/model",
        data=EVALUATE.task_files,
    output:
        "results/evaluate/{arm}/{estage}/{task}.json",
    log:
        "logs/evaluate_task/{arm}/{estage}/{task}.log",
    wildcard_constraints:
        estage=EVALUATE.stage_pattern,
        task=EVALUATE.task_pattern,
    conda:
        CONDA_ENV
    threads: EVALUATE.threads
    resources:
        **EVALUATE.resources("evaluate"),
    params:
        task=EVALUATE.task,
        settings=EVALUATE.settings,
        device=EVALUATE.device,
        seed=EVALUATE.seed,
        cache=EVALUATE.cache,
    script:
        "../scripts/evaluate_task.py"


rule make_table1:
    input:
        rows=EVALUATE.table1_rows,
        pretrain_only_rows=EVALUATE.pretrain_only_rows,
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
    log:
        "logs/make_table1.log",
    conda:
        CONDA_ENV
    resources:
        **EVALUATE.resources("figures"),
    params:
        scale=EVALUATE.scale,
        display_names=EVALUATE.display_names,
    script:
        "../scripts/make_table1.py"


rule evaluate:
    input:
        EVALUATE.rows(EVALUATE.stages),
