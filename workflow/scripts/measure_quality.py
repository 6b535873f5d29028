"""Adapter: alignment and uniformity of one arm's embedding model -> results/quality/{arm}/{estage}.json."""

from twinarch.core.device import resolve_device_settings
from twinarch.core.logs import setup_logging
from twinarch.quality.config import QualitySettings
from twinarch.quality.measure import measure_quality

setup_logging(snakemake.log[0])
params = snakemake.params
wildcards = snakemake.wildcards
measure_quality(
    model_dir=snakemake.input.model,
    settings=QualitySettings.from_section(params.quality, params.data_root),
    device=resolve_device_settings(params.device),
    seed=params.seed,
    labels={"arm": wildcards.arm, "seed": int(wildcards.seed), "family": params.family, "estage": wildcards.estage},
    out_json=snakemake.output[0],
    fragment={"quality": params.quality, "device": params.device, "seed": params.seed},
)
