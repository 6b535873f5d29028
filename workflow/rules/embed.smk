# Stage: embed. Every arm's pretrain-only embedding model ('base'), then the contrastive stages of
# config.embed.stages in order (the paper: 'wsl' then 'ft'), each starting from the previous one,
# once per replicate seed. Contrastive data is prepared once per stage and shared by every arm and
# seed (same data; the seed decides the sampling order).
from twinarch.embed.rules import EmbedRules

EMBED = EmbedRules(config, STUDY.lineage)


rule prepare_contrastive_data:
    input:
        EMBED.data_files,
        checked=ancient(STUDY.inputs_checked),
    output:
        data=directory("results/data/contrastive/{estage}/data"),
        manifest="results/data/contrastive/{estage}/manifest.json",
    log:
        "logs/prepare_contrastive_data/{estage}.log",
    benchmark:
        "logs/benchmarks/prepare_contrastive_data/{estage}.tsv"
    wildcard_constraints:
        estage=EMBED.stage_pattern,
    conda:
        CONDA_ENV
    resources:
        **EMBED.resources("data"),
    params:
        stage=EMBED.data,
        seed=EMBED.seed,
        data_root=EMBED.data_root,
    script:
        "../scripts/prepare_contrastive_data.py"


rule build_base_embedding_model:
    input:
        EMBED.backbone_input,
    output:
        model=directory("results/embed/{arm}/seed_{seed}/base/model"),
        manifest="results/embed/{arm}/seed_{seed}/base/manifest.json",
    log:
        "logs/build_base_embedding_model/{arm}/seed_{seed}.log",
    benchmark:
        "logs/benchmarks/build_base_embedding_model/{arm}/seed_{seed}.tsv"
    wildcard_constraints:
        seed=EMBED.seed_pattern,
    conda:
        CONDA_ENV
    resources:
        **EMBED.resources("embed"),
    params:
        arm=EMBED.arm,
        source=EMBED.backbone,
        random_init=EMBED.random_init,
        settings=EMBED.base_settings,
        device=EMBED.device,
    script:
        "../scripts/build_base_embedding_model.py"


rule train_embedding_model:
    input:
        model=EMBED.start_model,
        data="results/data/contrastive/{estage}/data",
        data_manifest="results/data/contrastive/{estage}/manifest.json",
    output:
        model=directory("results/embed/{arm}/seed_{seed}/{estage}/model"),
        manifest="results/embed/{arm}/seed_{seed}/{estage}/manifest.json",
    log:
        "logs/train_embedding_model/{arm}/seed_{seed}/{estage}.log",
    benchmark:
        "logs/benchmarks/train_embedding_model/{arm}/seed_{seed}/{estage}.tsv"
    wildcard_constraints:
        estage=EMBED.stage_pattern,
        seed=EMBED.seed_pattern,
    conda:
        CONDA_ENV
    threads: EMBED.threads
    resources:
        **EMBED.resources("embed"),
    params:
        arm=EMBED.arm,
        stage=EMBED.stage,
        seed=EMBED.replicate_seed,
        device=EMBED.device,
        work_dir=EMBED.work_dir,
    script:
        "../scripts/train_embedding_model.py"


# One target per estage (`snakemake embed_base`, `embed_wsl`, `embed_ft`): every arm's model.
for _estage in EMBED.estages:

    rule:
        name:
            f"embed_{_estage}"
        input:
            EMBED.manifests([_estage]),


rule embed:
    input:
        EMBED.manifests(),
