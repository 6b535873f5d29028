# Stage: quality. Alignment and uniformity of every arm's pretrain-only and fine-tuned embedding
# models (Figure 2).
from twinarch.quality.rules import QualityRules

QUALITY = QualityRules(config)


rule measure_quality:
    input:
        model="results/embed/{arm}/{estage}/model",
        texts=QUALITY.text_files,
    output:
        "results/quality/{arm}/{estage}.json",
    log:
        "logs/measure_quality/{arm}/{estage}.log",
    wildcard_constraints:
        estage=QUALITY.estage_pattern,
    conda:
        CONDA_ENV
    resources:
        **QUALITY.resources("quality"),
    params:
        family=QUALITY.family,
        quality=QUALITY.section,
        device=QUALITY.device,
        seed=QUALITY.seed,
        data_root=QUALITY.data_root,
    script:
        "../scripts/measure_quality.py"


rule plot_fig2:
    input:
        QUALITY.jsons,
    output:
        "results/figures/fig2_alignment_uniformity.pdf",
        report(
            "results/figures/fig2_alignment_uniformity.png",
            caption="../report/fig2.rst",
            category="Figure 2: alignment and uniformity",
        ),
    log:
        "logs/plot_fig2.log",
    conda:
        CONDA_ENV
    resources:
        **QUALITY.resources("figures"),
    params:
        display_names=QUALITY.display_names,
    script:
        "../scripts/plot_fig2.py"


rule quality:
    input:
        QUALITY.jsons,
        rules.plot_fig2.output,
