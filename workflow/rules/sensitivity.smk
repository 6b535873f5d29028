# Stage: sensitivity. How much each input position moves the pooled embedding (occlusion and
# integrated gradients) for every arm's embedding models and, for decoders, causal variants of the
# same weights built in memory (last-token and mean pooling): where a sentence embedding looks.
from twinarch.sensitivity.rules import SensitivityRules

SENSITIVITY = SensitivityRules(config)


rule measure_sensitivity:
    input:
        model=SENSITIVITY.model,
        texts=SENSITIVITY.text_files,
        checked=ancient(STUDY.inputs_checked),
    output:
        positions=SENSITIVITY.output("positions"),
        deltas=SENSITIVITY.output("deltas"),
        manifest=SENSITIVITY.output("manifest"),
    log:
        "logs/measure_sensitivity/{arm}/seed_{seed}/{estage}.log",
    benchmark:
        "logs/benchmarks/measure_sensitivity/{arm}/seed_{seed}/{estage}.tsv"
    wildcard_constraints:
        estage=SENSITIVITY.estage_pattern,
        seed=SENSITIVITY.seed_pattern,
    conda:
        CONDA_ENV
    threads: SENSITIVITY.threads
    resources:
        **SENSITIVITY.resources("quality"),
    params:
        arm=SENSITIVITY.arm,
        sensitivity=SENSITIVITY.section,
        device=SENSITIVITY.device,
        seed=SENSITIVITY.seed,
        data_root=SENSITIVITY.data_root,
    script:
        "../scripts/measure_sensitivity.py"


rule plot_sensitivity:
    input:
        positions=SENSITIVITY.outputs("positions"),
        deltas=SENSITIVITY.outputs("deltas"),
        manifests=SENSITIVITY.outputs("manifest"),
    output:
        head_pdf="results/figures/sensitivity_head.pdf",
        head_png=report(
            "results/figures/sensitivity_head.png",
            caption="../report/sensitivity_head.rst",
            category="Sensitivity: where a sentence embedding looks",
        ),
        position_pdf="results/figures/sensitivity_position.pdf",
        position_png=report(
            "results/figures/sensitivity_position.png",
            caption="../report/sensitivity_position.rst",
            category="Sensitivity: where a sentence embedding looks",
        ),
        table=multiext("results/tables/sensitivity_head", ".csv", ".md", ".tex"),
    log:
        "logs/plot_sensitivity.log",
    benchmark:
        "logs/benchmarks/plot_sensitivity.tsv"
    conda:
        CONDA_ENV
    resources:
        **SENSITIVITY.resources("figures"),
    params:
        display_names=SENSITIVITY.display_names,
        stages=SENSITIVITY.stages,
    script:
        "../scripts/plot_sensitivity.py"


rule sensitivity:
    input:
        SENSITIVITY.outputs("positions"),
        rules.plot_sensitivity.output,
