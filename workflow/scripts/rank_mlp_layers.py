"""Adapter: LLM-Drop importance of every MLP of one arm's embedding model -> results/prune/{arm}/seed_{seed}/.../importance.json."""

from twinarch.core.device import resolve_device_settings
from twinarch.core.logs import setup_logging
from twinarch.prune.config import Calibration
from twinarch.prune.importance import rank_mlp_layers
from twinarch.training.run import use_threads

setup_logging(snakemake.log[0])
params = snakemake.params
device = resolve_device_settings(params.device)
use_threads(device, snakemake.threads)
rank_mlp_layers(
    model_dir=snakemake.input.model,
    calibration=Calibration.from_section(params.calibration, params.data_root),
    device=device,
    seed=params.seed,
    labels={
        "arm": snakemake.wildcards.arm,
        "seed": int(snakemake.wildcards.seed),
        "family": params.arm["family"],
        "estage": params.from_stage,
    },
    out_json=snakemake.output[0],
    fragment={"calibration": params.calibration, "device": params.device, "seed": params.seed},
)
