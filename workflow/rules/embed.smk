# Stage: embed. Every arm's pretrain-only embedding model ('base'), then the contrastive stages of
# config.embed.stages in order (the paper: 'wsl' then 'ft'), each starting from the previous one.
# Contrastive data is prepared once per stage and shared by every arm (same data, same order).
include: "embed_functions.smk"


rule prepare_contrastive_data:
    input:
        contrastive_data_files,
    output:
        data=directory("results/data/contrastive/{estage}/data"),
        manifest="results/data/contrastive/{estage}/manifest.json",
    log:
        "logs/prepare_contrastive_data/{estage}.log",
    wildcard_constraints:
        estage=EMBED_STAGES,
    conda:
        CONDA_ENV
    resources:
        **rule_resources("data"),
    params:
        stage=embed_stage_config,
        seed=embed_seed,
        data_root=embed_data_root,
    script:
        "../scripts/prepare_contrastive_data.py"


rule build_base_embedding_model:
    input:
        base_model_input,
    output:
        model=directory("results/embed/{arm}/base/model"),
        manifest="results/embed/{arm}/base/manifest.json",
    log:
        "logs/build_base_embedding_model/{arm}.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("embed"),
    params:
        arm=arm_config,
        source=base_model_source,
        settings=embed_base_settings,
        device=embed_device,
    script:
        "../scripts/build_base_embedding_model.py"


rule train_embedding_model:
    input:
        model=previous_embedding_model,
        data="results/data/contrastive/{estage}/data",
        data_manifest="results/data/contrastive/{estage}/manifest.json",
    output:
        model=directory("results/embed/{arm}/{estage}/model"),
        manifest="results/embed/{arm}/{estage}/manifest.json",
    log:
        "logs/train_embedding_model/{arm}/{estage}.log",
    wildcard_constraints:
        estage=EMBED_STAGES,
    conda:
        CONDA_ENV
    threads: embed_threads
    resources:
        **rule_resources("embed"),
    params:
        arm=arm_config,
        stage=embed_stage_config,
        seed=embed_seed,
        device=embed_device,
        work_dir=embed_work_dir,
    script:
        "../scripts/train_embedding_model.py"


# One target per estage (`snakemake embed_base`, `embed_wsl`, `embed_ft`): every arm's model.
for _estage in EMBED_ESTAGES:

    rule:
        name:
            f"embed_{_estage}"
        input:
            expand(
                "results/embed/{arm}/{estage}/manifest.json", arm=ARMS, estage=_estage
            ),


rule embed:
    input:
        expand(
            "results/embed/{arm}/{estage}/manifest.json",
            arm=ARMS,
            estage=EMBED_ESTAGES,
        ),
