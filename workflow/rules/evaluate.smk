# Stage: evaluate. One mteb job per (arm, embedding stage, task), then Table 1 from the tidy rows.
# Tasks are the configured benchmark's (listed from mteb's metadata, offline) plus local tasks.
import re

from twinarch.scoring import PRETRAIN_ONLY_STAGE, TABLE1_STAGE


include: "evaluate_functions.smk"


rule evaluate_task:
    input:
        model="results/embed/{arm}/{estage}/model",
        data=evaluation_task_files,
    output:
        "results/evaluate/{arm}/{estage}/{task}.json",
    log:
        "logs/evaluate_task/{arm}/{estage}/{task}.log",
    wildcard_constraints:
        estage="|".join(EVAL_STAGES),
        task="|".join(re.escape(t) for t in EVAL_TASKS),
    conda:
        CONDA_ENV
    threads: evaluation_threads
    resources:
        **rule_resources("evaluate"),
    params:
        arm=arm_config,
        task=evaluation_task,
        settings=evaluation_settings,
        device=evaluation_device,
        seed=evaluation_seed,
        cache=evaluation_cache,
    script:
        "../scripts/evaluate_task.py"


rule make_table1:
    input:
        rows=evaluation_rows([TABLE1_STAGE]),
        pretrain_only_rows=evaluation_rows([PRETRAIN_ONLY_STAGE]),
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
        **rule_resources("figures"),
    params:
        scale=table1_scale,
    script:
        "../scripts/make_table1.py"


rule evaluate:
    input:
        evaluation_rows(EVAL_STAGES),
