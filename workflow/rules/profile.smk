# Stage: profile and quality. Throughput and memory of every arm's random-init embedding model
# (Table 2, Figures 3-4) and alignment/uniformity of its pretrain-only and fine-tuned models (Figure 2).
include: "profile_functions.smk"


# Every arm in one job, cells interleaved arm by arm (twinarch.profile_workers): measured apart,
# the arms' numbers would differ by the machine's drift between jobs, not by architecture.
rule profile_arms:
    input:
        model_configs=expand("results/models/{arm}/config.json", arm=ARMS),
        tokenizers=profile_tokenizer_files,
        texts=profile_text_files,
    output:
        expand("results/profile/{arm}.csv", arm=ARMS),
    log:
        "logs/profile_arms.log",
    conda:
        CONDA_ENV
    threads: profile_threads
    resources:
        **rule_resources("profile"),
    params:
        arms=arm_sections,
        tokenizers=arm_tokenizer_sources,
        profile=profile_section,
        device=device_section,
        normalize=embed_normalize,
        seed=study_seed,
        data_root=data_root,
    script:
        "../scripts/profile_arms.py"


rule make_table2:
    input:
        expand("results/profile/{arm}.csv", arm=ARMS),
    output:
        report(
            "results/tables/table2.csv",
            caption="../report/table2.rst",
            category="Table 2: throughput and memory",
        ),
        "results/tables/table2.md",
        "results/tables/table2.tex",
    log:
        "logs/make_table2.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("figures"),
    params:
        profile=profile_section,
        arms=arm_order,
    script:
        "../scripts/make_table2.py"


rule plot_fig3:
    input:
        expand("results/profile/{arm}.csv", arm=ARMS),
    output:
        "results/figures/fig3_throughput.pdf",
        report(
            "results/figures/fig3_throughput.png",
            caption="../report/fig3.rst",
            category="Figures 3-4: throughput and memory",
        ),
    log:
        "logs/plot_fig3.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("figures"),
    params:
        profile=profile_section,
        arms=arm_order,
    script:
        "../scripts/plot_fig3.py"


rule plot_fig4:
    input:
        expand("results/profile/{arm}.csv", arm=ARMS),
    output:
        "results/figures/fig4_memory.pdf",
        report(
            "results/figures/fig4_memory.png",
            caption="../report/fig4.rst",
            category="Figures 3-4: throughput and memory",
        ),
    log:
        "logs/plot_fig4.log",
    conda:
        CONDA_ENV
    resources:
        **rule_resources("figures"),
    params:
        profile=profile_section,
        arms=arm_order,
    script:
        "../scripts/plot_fig4.py"


rule measure_quality:
    input:
        model="results/embed/{arm}/{estage}/model",
        texts=quality_text_files,
    output:
        "results/quality/{arm}/{estage}.json",
    log:
        "logs/measure_quality/{arm}/{estage}.log",
    wildcard_constraints:
        estage="|".join(QUALITY_ESTAGES),
    conda:
        CONDA_ENV
    resources:
        **rule_resources("quality"),
    params:
        arm=arm_config,
        quality=quality_section,
        device=device_section,
        seed=study_seed,
        data_root=data_root,
    script:
        "../scripts/measure_quality.py"


rule plot_fig2:
    input:
        expand("results/quality/{arm}/{estage}.json", arm=ARMS, estage=QUALITY_ESTAGES),
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
        **rule_resources("figures"),
    params:
        arms=arm_order,
    script:
        "../scripts/plot_fig2.py"


rule profile:
    input:
        expand("results/profile/{arm}.csv", arm=ARMS),
        rules.make_table2.output,
        rules.plot_fig3.output,
        rules.plot_fig4.output,


rule quality:
    input:
        rules.plot_fig2.input,
        rules.plot_fig2.output,
