"""Adapter: alignment and uniformity of one arm's embedding model -> results/quality/{arm}/{estage}.json."""

from twinarch.config import Arm
from twinarch.device import resolve_device_settings
from twinarch.logs import setup_logging
from twinarch.profile_config import QualitySettings
from twinarch.quality import measure_quality

setup_logging(snakemake.log[0])  # noqa: F821
params = snakemake.params  # noqa: F821
arm = Arm.from_dict(params.arm)
estage = snakemake.wildcards.estage  # noqa: F821
measure_quality(
    model_dir=snakemake.input.model,  # noqa: F821
    settings=QualitySettings.from_section(params.quality, params.data_root),
    device=resolve_device_settings(params.device),
    seed=params.seed,
    labels={"arm": arm.name, "display_name": arm.display_name, "family": arm.family, "estage": estage},
    out_json=snakemake.output[0],  # noqa: F821
    fragment={"arm": params.arm, "quality": params.quality, "device": params.device, "seed": params.seed},
)
