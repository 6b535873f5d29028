# Stage: quality. Alignment and uniformity of every arm's pretrain-only and fine-tuned embedding
# models (Figure 2).
from twinarch.quality.rules import QualityRules

QUALITY = QualityRules(config)


rule measure_quality:
    input:
        model="results/embed/{arm}/seed_{seed}/{estage}/model",
        texts=QUALITY.text_files,
    output:
        "results/quality/{arm}/seed_{seed}/{estage}.json",
    log:
        "logs/measure_quality/{arm}/seed_{seed}/{estage}.log",
    benchmark:
        "logs/benchmarks/measure_quality/{arm}/seed_{seed}/{estage}.tsv"
    wildcard_constraints:
        estage=QUALITY.estage_pattern,
        seed=QUALITY.seed_pattern,
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
    benchmark:
        "logs/benchmarks/plot_fig2.tsv"
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
