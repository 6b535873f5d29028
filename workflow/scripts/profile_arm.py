"""Adapter: throughput/memory sweep of one arm's random-init embedding model -> results/profile/{arm}.csv."""

from pathlib import Path

import torch

from twinarch.config import Arm
from twinarch.device import resolve_device_settings
from twinarch.logs import setup_logging
from twinarch.profile_config import ProfileSettings
from twinarch.profiling import profile_arm

setup_logging(snakemake.log[0])  # noqa: F821
params = snakemake.params  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
profile_arm(
    model_config_dir=Path(snakemake.input.model_config).parent,  # noqa: F821
    tokenizer_dir=params.tokenizer,
    arm=Arm.from_dict(params.arm),
    settings=ProfileSettings.from_section(params.profile, params.data_root),
    device=resolve_device_settings(params.device),
    normalize=params.normalize,
    seed=params.seed,
    out_csv=snakemake.output[0],  # noqa: F821
    fragment={"arm": params.arm, "profile": params.profile, "device": params.device, "seed": params.seed},
)
