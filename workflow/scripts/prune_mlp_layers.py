"""Adapter: drop one arm's k least important MLPs -> results/prune/{arm}/seed_{seed}/.../drop{k}/dropped/{model,manifest.json}."""

from twinarch.core.logs import setup_logging
from twinarch.prune.drop import prune_model

setup_logging(snakemake.log[0])
params = snakemake.params
prune_model(
    model_dir=snakemake.input.model,
    importance_json=snakemake.input.importance,
    k=params.k,
    labels={
        "arm": snakemake.wildcards.arm,
        "seed": int(snakemake.wildcards.seed),
        "family": params.arm["family"],
        "estage": params.from_stage,
    },
    out_model=snakemake.output.model,
    out_manifest=snakemake.output.manifest,
    fragment={"arm": params.arm, "k": params.k},
)
