"""Adapter: per-position sensitivity of one arm's embedding model and its causal variants ->
results/sensitivity/{arm}/{estage}/ (positions.parquet, ig_deltas.csv, manifest.json)."""

from twinarch.core.config import Arm
from twinarch.core.device import resolve_device_settings
from twinarch.core.logs import setup_logging
from twinarch.sensitivity.config import SensitivitySettings
from twinarch.sensitivity.measure import measure_sensitivity
from twinarch.training.run import use_threads

setup_logging(snakemake.log[0])
params = snakemake.params
wildcards = snakemake.wildcards
device = resolve_device_settings(params.device)
use_threads(device, snakemake.threads)
measure_sensitivity(
    model_dir=snakemake.input.model,
    arm=Arm.from_dict({"name": wildcards.arm, **params.arm}),
    settings=SensitivitySettings.from_section(params.sensitivity, params.data_root),
    device=device,
    seed=params.seed,
    labels={
        "model": wildcards.arm,
        "seed": int(wildcards.seed),
        "family": params.arm["family"],
        "stage": wildcards.estage,
    },
    out_positions=snakemake.output.positions,
    out_deltas=snakemake.output.deltas,
    out_manifest=snakemake.output.manifest,
    fragment={"sensitivity": params.sensitivity, "arm": params.arm, "device": params.device, "seed": params.seed},
)
