# Stage: profile. Throughput and memory of every arm's random-init embedding model (Table 2,
# Figures 3-4); every arm in one job, cells interleaved arm by arm (twinarch.profile.workers):
# measured apart, the arms' numbers would differ by the machine's drift between jobs.
from twinarch.profile.rules import ProfileRules

PROFILE = ProfileRules(config)


rule profile_arms:
    input:
        model_configs=PROFILE.model_configs(),
        tokenizers=PROFILE.tokenizer_files,
        texts=PROFILE.text_files,
    output:
        PROFILE.csvs,
    log:
        "logs/profile_arms.log",
    benchmark:
        "logs/benchmarks/profile_arms.tsv"
    conda:
        CONDA_ENV
    threads: PROFILE.threads
    resources:
        **PROFILE.resources("profile"),
    params:
        arms=PROFILE.arm_entries,
        tokenizers=PROFILE.tokenizers,
        profile=PROFILE.measurement,
        device=PROFILE.device,
        normalize=PROFILE.normalize,
        seed=PROFILE.seed,
        data_root=PROFILE.data_root,
    script:
        "../scripts/profile_arms.py"


rule make_table2:
    input:
        PROFILE.csvs,
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
    benchmark:
        "logs/benchmarks/make_table2.tsv"
    conda:
        CONDA_ENV
    resources:
        **PROFILE.resources("figures"),
    params:
        profile=PROFILE.section,
        display_names=PROFILE.display_names,
    script:
        "../scripts/make_table2.py"


rule plot_fig3:
    input:
        PROFILE.csvs,
    output:
        "results/figures/fig3_throughput.pdf",
        report(
            "results/figures/fig3_throughput.png",
            caption="../report/fig3.rst",
            category="Figures 3-4: throughput and memory",
        ),
    log:
        "logs/plot_fig3.log",
    benchmark:
        "logs/benchmarks/plot_fig3.tsv"
    conda:
        CONDA_ENV
    resources:
        **PROFILE.resources("figures"),
    params:
        profile=PROFILE.section,
        display_names=PROFILE.display_names,
    script:
        "../scripts/plot_fig3.py"


rule plot_fig4:
    input:
        PROFILE.csvs,
    output:
        "results/figures/fig4_memory.pdf",
        report(
            "results/figures/fig4_memory.png",
            caption="../report/fig4.rst",
            category="Figures 3-4: throughput and memory",
        ),
    log:
        "logs/plot_fig4.log",
    benchmark:
        "logs/benchmarks/plot_fig4.tsv"
    conda:
        CONDA_ENV
    resources:
        **PROFILE.resources("figures"),
    params:
        profile=PROFILE.section,
        display_names=PROFILE.display_names,
    script:
        "../scripts/plot_fig4.py"


rule profile:
    input:
        PROFILE.csvs,
        rules.make_table2.output,
        rules.plot_fig3.output,
        rules.plot_fig4.output,
