# Stage: data. Demo data, the shared tokenizer, and each pretraining stage's packed token shards
# (one job per shard with Snakemake's scatter/gather, plus a held-out validation shard).
from twinarch.data.rules import DataRules

DATA = DataRules(config)


scattergather:
    shard=DATA.num_shards,


rule generate_synthetic_data:
    output:
        **DATA.synthetic_files,
    log:
        "logs/generate_synthetic_data.log",
    benchmark:
        "logs/benchmarks/generate_synthetic_data.tsv"
    conda:
        CONDA_ENV
    resources:
        **DATA.resources("data"),
    params:
        synthetic=DATA.synthetic,
        seed=DATA.seed,
    script:
        "../scripts/generate_synthetic_data.py"


rule train_tokenizer:
    input:
        DATA.tokenizer_inputs,
        checked=ancient(STUDY.inputs_checked),
    output:
        directory("results/tokenizer"),
    log:
        "logs/train_tokenizer.log",
    benchmark:
        "logs/benchmarks/train_tokenizer.tsv"
    conda:
        CONDA_ENV
    resources:
        **DATA.resources("tokenizer"),
    params:
        tokenizer=DATA.tokenizer,
        corpora=DATA.tokenizer_corpora,
    script:
        "../scripts/train_tokenizer.py"


rule write_shard:
    input:
        tokenizer="results/tokenizer",
        corpora=DATA.shard_corpus_files,
    output:
        shard="results/shards/{stage}/part_{scatteritem}.npy",
        stats="results/shards/{stage}/part_{scatteritem}.json",
    log:
        "logs/write_shard/{stage}/part_{scatteritem}.log",
    benchmark:
        "logs/benchmarks/write_shard/{stage}/part_{scatteritem}.tsv"
    wildcard_constraints:
        stage=DATA.shard_stage_pattern,
    conda:
        CONDA_ENV
    resources:
        **DATA.resources("data"),
    params:
        plan=DATA.shard_plan,
    script:
        "../scripts/write_shard.py"


rule write_validation_shard:
    input:
        tokenizer="results/tokenizer",
        corpora=DATA.shard_corpus_files,
    output:
        shard="results/shards/{stage}/validation.npy",
        stats="results/shards/{stage}/validation.json",
    log:
        "logs/write_validation_shard/{stage}.log",
    benchmark:
        "logs/benchmarks/write_validation_shard/{stage}.tsv"
    wildcard_constraints:
        stage=DATA.shard_stage_pattern,
    conda:
        CONDA_ENV
    resources:
        **DATA.resources("data"),
    params:
        plan=DATA.shard_plan,
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
    benchmark:
        "logs/benchmarks/gather_shards/{stage}.tsv"
    wildcard_constraints:
        stage=DATA.shard_stage_pattern,
    conda:
        CONDA_ENV
    resources:
        **DATA.resources("data"),
    params:
        plan=DATA.shard_plan,
    script:
        "../scripts/gather_shards.py"


rule data:
    input:
        "results/tokenizer",
        DATA.manifests(),
