# Stage: llm2vec (draft). LLM2Vec's training steps for bidirectional decoders, listed in an arm's
# `steps` after its pretraining stages: masked next-token prediction on the arm's own pretraining
# shards (train_mntp), then unsupervised SimCSE on sentences of the pretraining corpora
# (train_simcse). Each step starts from the previous step's model and writes a plain Hugging Face
# model directory that the next step, or the embed stage's `base`, loads, once per replicate seed.
# Checkpoints live in work/llm2vec/{arm}/seed_{seed}/{step}/ (a param, never an output), so a rerun
# after a failure resumes.
from twinarch.llm2vec.rules import Llm2vecRules

LLM2VEC = Llm2vecRules(config, STUDY.lineage)


rule train_mntp:
    input:
        unpack(LLM2VEC.mntp_inputs),
    output:
        model=directory(LLM2VEC.output("model")),
        manifest=LLM2VEC.output("manifest.json"),
        metrics=LLM2VEC.output("metrics.jsonl"),
    log:
        "logs/train_mntp/{arm}/seed_{seed}/{step}.log",
    benchmark:
        "logs/benchmarks/train_mntp/{arm}/seed_{seed}/{step}.tsv"
    wildcard_constraints:
        step=LLM2VEC.step_pattern("mntp"),
        seed=LLM2VEC.seed_pattern,
    conda:
        CONDA_ENV
    threads: LLM2VEC.threads("mntp")
    resources:
        **LLM2VEC.resources("pretrain"),
    params:
        run=LLM2VEC.run,
        start=LLM2VEC.start_model,
        work_dir=LLM2VEC.work_dir,
    script:
        "../scripts/train_mntp.py"


rule train_simcse:
    input:
        unpack(LLM2VEC.simcse_inputs),
    output:
        model=directory(LLM2VEC.output("model")),
        manifest=LLM2VEC.output("manifest.json"),
    log:
        "logs/train_simcse/{arm}/seed_{seed}/{step}.log",
    benchmark:
        "logs/benchmarks/train_simcse/{arm}/seed_{seed}/{step}.tsv"
    wildcard_constraints:
        step=LLM2VEC.step_pattern("simcse"),
        seed=LLM2VEC.seed_pattern,
    conda:
        CONDA_ENV
    threads: LLM2VEC.threads("simcse")
    resources:
        **LLM2VEC.resources("embed"),
    params:
        run=LLM2VEC.run,
        start=LLM2VEC.start_model,
        corpora=LLM2VEC.corpora,
        work_dir=LLM2VEC.work_dir,
    script:
        "../scripts/train_simcse.py"


rule llm2vec:
    input:
        LLM2VEC.outputs("manifest.json"),
        STUDY.artifact_files("llm2vec"),
