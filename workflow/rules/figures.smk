# Provenance of every paper artifact. The artifacts themselves are made by their stage's rules
# (Table 1 in evaluate.smk, Table 2 and Figures 2-4 in profile.smk, learning curves in pretrain.smk).
from twinarch.artifacts import artifact_files


rule write_manifest:
    input:
        artifact_files(),
    output:
        "results/manifest.json",
    log:
        "logs/write_manifest.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("figures"),
    script:
        "../scripts/write_manifest.py"
