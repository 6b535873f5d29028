# Stage: data. Demo data, the shared tokenizer, and each pretraining stage's packed token shards
# (one job per shard with Snakemake's scatter/gather, plus a held-out validation shard).
from twinarch.synthetic import synthetic_output_files


include: "data_functions.smk"


scattergather:
    shard=config["shards"]["num_shards"],


rule generate_synthetic_data:
    output:
        **synthetic_output_files(),
    log:
        "logs/generate_synthetic_data.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("data"),
    params:
        synthetic=synthetic_section,
        seed=data_seed,
    script:
        "../scripts/generate_synthetic_data.py"


rule train_tokenizer:
    input:
        tokenizer_inputs,
    output:
        directory("results/tokenizer"),
    log:
        "logs/train_tokenizer.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("tokenizer"),
    params:
        tokenizer=tokenizer_params,
        corpora=tokenizer_corpora,
    script:
        "../scripts/train_tokenizer.py"


rule write_shard:
    input:
        tokenizer="results/tokenizer",
        corpora=shard_corpus_files,
    output:
        shard="results/shards/{stage}/part_{scatteritem}.npy",
        stats="results/shards/{stage}/part_{scatteritem}.json",
    log:
        "logs/write_shard/{stage}/part_{scatteritem}.log",
    wildcard_constraints:
        stage=SHARD_STAGE_PATTERN,
    conda:
        CONDA_ENV
    resources:
        **rule_resources("data"),
    params:
        plan=shard_plan,
    script:
        "../scripts/write_shard.py"


rule write_validation_shard:
    input:
        tokenizer="results/tokenizer",
        corpora=shard_corpus_files,
    output:
        shard="results/shards/{stage}/validation.npy",
        stats="results/shards/{stage}/validation.json",
    log:
        "logs/write_validation_shard/{stage}.log",
    wildcard_constraints:
        stage=SHARD_STAGE_PATTERN,
    conda:
        CONDA_ENV
    resources:
        **rule_resources("data"),
    params:
        plan=shard_plan,
    script:
        "../scripts/write_validation_shard.py"


rule gather_shards:
    input:
        tokenizer="results/tokenizer",
        shards=gather.shard("results/shards/{{stage}}/part_{scatteritem}.npy"),
        stats=gather.shard("results/shards/{{stage}}/part_{scatteritem}.json"),
        validation="results/shards/{stage}/validation.json",
    output:
        "results/shards/{stage}/manifest.json",
    log:
        "logs/gather_shards/{stage}.log",
    wildcard_constraints:
        stage=SHARD_STAGE_PATTERN,
    conda:
        CONDA_ENV
    resources:
        **rule_resources("data"),
    params:
        plan=shard_plan,
    script:
        "../scripts/gather_shards.py"


rule data:
    input:
        "results/tokenizer",
        expand("results/shards/{stage}/manifest.json", stage=SHARD_STAGES),
