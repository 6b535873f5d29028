# The study as a whole: the check of every input before the work that needs it, and the provenance
# of every paper artifact. The artifacts themselves are made by their stage's rules (Table 1 in
# evaluate.smk, Table 2 and Figures 3-4 in profile.smk, Figure 2 in quality.smk, learning curves in
# pretrain.smk).


rule check_inputs:
    input:
        STUDY.input_files,
    output:
        STUDY.inputs_checked,
    log:
        "logs/check_inputs.log",
    benchmark:
        "logs/benchmarks/check_inputs.tsv"
    conda:
        CONDA_ENV
    resources:
        **STUDY.resources("data"),
    script:
        "../scripts/check_inputs.py"


rule write_manifest:
    input:
        STUDY.artifact_files(),
    output:
        "results/manifest.json",
    log:
        "logs/write_manifest.log",
    benchmark:
        "logs/benchmarks/write_manifest.tsv"
    conda:
        CONDA_ENV
    resources:
        **STUDY.resources("figures"),
    script:
        "../scripts/write_manifest.py"
