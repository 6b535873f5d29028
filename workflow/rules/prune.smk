# Stage: prune (EffiR's depth reduction). Each pruned arm's `prune.from_stage` embedding model gets
# its MLPs ranked by LLM-Drop's importance on calibration text, loses the k least important ones for
# every k of prune.ks, recovers with contrastive training, and is scored (evaluate's tasks) and timed
# (profile's encode cell) against the unpruned model. Without a `prune` section nothing here runs.
from twinarch.prune.rules import PruneRules

PRUNE = PruneRules(config, STUDY.lineage)


rule rank_mlp_layers:
    input:
        model=PRUNE.source_model,
        texts=PRUNE.calibration_files,
        checked=ancient(STUDY.inputs_checked),
    output:
        PRUNE.path("importance.json", "{arm}", "{seed}"),
    log:
        "logs/rank_mlp_layers/{arm}/seed_{seed}.log",
    benchmark:
        "logs/benchmarks/rank_mlp_layers/{arm}/seed_{seed}.tsv"
    wildcard_constraints:
        seed=PRUNE.seed_pattern,
    conda:
        CONDA_ENV
    threads: PRUNE.rank_threads
    resources:
        **PRUNE.resources("quality"),
    params:
        arm=PRUNE.arm,
        from_stage=PRUNE.section.from_stage,
        calibration=PRUNE.calibration,
        device=PRUNE.device,
        seed=PRUNE.seed,
        data_root=PRUNE.data_root,
    script:
        "../scripts/rank_mlp_layers.py"


rule prune_mlp_layers:
    input:
        model=PRUNE.source_model,
        importance=PRUNE.path("importance.json", "{arm}", "{seed}"),
    output:
        model=directory(PRUNE.path("dropped/model", "{arm}", "{seed}", "{k}")),
        manifest=PRUNE.path("dropped/manifest.json", "{arm}", "{seed}", "{k}"),
    log:
        "logs/prune_mlp_layers/{arm}/seed_{seed}/{k}.log",
    benchmark:
        "logs/benchmarks/prune_mlp_layers/{arm}/seed_{seed}/{k}.tsv"
    wildcard_constraints:
        seed=PRUNE.seed_pattern,
        k=PRUNE.k_pattern,
    conda:
        CONDA_ENV
    resources:
        **PRUNE.resources("quality"),
    params:
        arm=PRUNE.arm,
        k=PRUNE.k,
        from_stage=PRUNE.section.from_stage,
    script:
        "../scripts/prune_mlp_layers.py"


rule prepare_recovery_data:
    input:
        PRUNE.recovery_files,
        checked=ancient(STUDY.inputs_checked),
    output:
        data=directory(PRUNE.path("recovery_data/data")),
        manifest=PRUNE.path("recovery_data/manifest.json"),
    log:
        "logs/prepare_recovery_data.log",
    benchmark:
        "logs/benchmarks/prepare_recovery_data.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRUNE.resources("data"),
    params:
        stage=PRUNE.recovery_data,
        seed=PRUNE.seed,
        data_root=PRUNE.data_root,
    script:
        # The embedding stage's own adapter: the same datasets code, the recovery stage's settings.
        "../scripts/prepare_contrastive_data.py"


rule recover_pruned_model:
    input:
        model=PRUNE.path("dropped/model", "{arm}", "{seed}", "{k}"),
        data=PRUNE.path("recovery_data/data"),
        data_manifest=PRUNE.path("recovery_data/manifest.json"),
    output:
        model=directory(PRUNE.path("recovered/model", "{arm}", "{seed}", "{k}")),
        manifest=PRUNE.path("recovered/manifest.json", "{arm}", "{seed}", "{k}"),
    log:
        "logs/recover_pruned_model/{arm}/seed_{seed}/{k}.log",
    benchmark:
        "logs/benchmarks/recover_pruned_model/{arm}/seed_{seed}/{k}.tsv"
    wildcard_constraints:
        seed=PRUNE.seed_pattern,
        k=PRUNE.k_pattern,
    conda:
        CONDA_ENV
    threads: PRUNE.recover_threads
    resources:
        **PRUNE.resources("embed"),
    params:
        arm=PRUNE.arm,
        stage=PRUNE.recovery,
        seed=PRUNE.replicate_seed,
        device=PRUNE.device,
        work_dir=PRUNE.work_dir,
    script:
        "../scripts/prune_mlp_recover.py"


# One job per pruned model: every task scored in one process, as the evaluation stage scores.
rule score_pruned_model:
    input:
        model=PRUNE.path("{variant}/model", "{arm}", "{seed}", "{k}"),
        data=PRUNE.task_files,
    output:
        rows=PRUNE.score_outputs(".json"),
        examples=PRUNE.score_outputs(".examples.json"),
    log:
        "logs/score_pruned_model/{arm}/seed_{seed}/{k}/{variant}.log",
    benchmark:
        "logs/benchmarks/score_pruned_model/{arm}/seed_{seed}/{k}/{variant}.tsv"
    wildcard_constraints:
        seed=PRUNE.seed_pattern,
        k=PRUNE.k_pattern,
        variant=PRUNE.variant_pattern,
    conda:
        CONDA_ENV
    threads: PRUNE.score_threads
    resources:
        **PRUNE.resources("evaluate"),
    params:
        stage=PRUNE.stage_label,
        tasks=PRUNE.task_entries,
        settings=PRUNE.evaluate_settings,
        device=PRUNE.device,
        seed=PRUNE.seed,
        cache=PRUNE.cache,
    script:
        "../scripts/prune_mlp_score.py"


rule time_pruned_models:
    input:
        models=PRUNE.speed_models(),
        texts=PRUNE.profile_text_files,
    output:
        PRUNE.path("throughput.csv"),
    log:
        "logs/time_pruned_models.log",
    benchmark:
        "logs/benchmarks/time_pruned_models.tsv"
    conda:
        CONDA_ENV
    threads: PRUNE.speed_threads
    resources:
        **PRUNE.resources("profile"),
    params:
        jobs=PRUNE.speed_jobs,
        profile=PRUNE.profile,
        throughput=PRUNE.throughput,
        device=PRUNE.device,
        seed=PRUNE.seed,
        data_root=PRUNE.data_root,
    script:
        "../scripts/prune_mlp_speed.py"


rule make_pruning_table:
    input:
        rows=PRUNE.score_rows(),
        manifests=PRUNE.drop_manifests(),
        speeds=PRUNE.path("throughput.csv"),
    output:
        "results/tables/prune_tradeoff.csv",
        "results/tables/prune_tradeoff.md",
        "results/tables/prune_tradeoff.tex",
    log:
        "logs/make_pruning_table.log",
    benchmark:
        "logs/benchmarks/make_pruning_table.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRUNE.resources("figures"),
    params:
        report=PRUNE.report_settings,
        resampling=PRUNE.resampling,
        seed=PRUNE.seed,
        display_names=PRUNE.display_names,
        scale=PRUNE.scale,
    script:
        "../scripts/make_pruning_table.py"


rule plot_pruning_tradeoff:
    input:
        "results/tables/prune_tradeoff.csv",
    output:
        "results/figures/prune_tradeoff.pdf",
        "results/figures/prune_tradeoff.png",
    log:
        "logs/plot_pruning_tradeoff.log",
    benchmark:
        "logs/benchmarks/plot_pruning_tradeoff.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRUNE.resources("figures"),
    script:
        "../scripts/plot_pruning_tradeoff.py"


rule plot_pruning_importance:
    input:
        PRUNE.importance_jsons(),
    output:
        "results/figures/prune_importance.pdf",
        "results/figures/prune_importance.png",
    log:
        "logs/plot_pruning_importance.log",
    benchmark:
        "logs/benchmarks/plot_pruning_importance.tsv"
    conda:
        CONDA_ENV
    resources:
        **PRUNE.resources("figures"),
    params:
        display_names=PRUNE.display_names,
    script:
        "../scripts/plot_pruning_importance.py"


rule prune:
    input:
        PRUNE.targets(),
