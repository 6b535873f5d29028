"""Resolving the config's `device` section to a concrete device, dtype and attention kernel.

`auto` is the same code path at every scale: bf16 and flash-attn on a GPU node that has them, fp32
and SDPA on a laptop. The choice is logged and recorded in every manifest and profile row.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class DeviceSettings:
    device: str
    dtype: torch.dtype
    attn_implementation: str

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def as_dict(self) -> dict[str, str]:
        return {"device": self.device, "dtype": self.dtype_name, "attn_implementation": self.attn_implementation}


def flash_attn_available() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None


def resolve_device_settings(section: Mapping[str, Any] | None = None) -> DeviceSettings:
    """Turn `{dtype, attn_implementation}` (either may be 'auto') into what this machine will use."""
    section = dict(section or {})
    cuda = torch.cuda.is_available()
    dtype_name = section.get("dtype", "auto")
    if dtype_name == "auto":
        dtype_name = "bfloat16" if cuda and torch.cuda.is_bf16_supported() else "float32"
    attn = section.get("attn_implementation", "auto")
    if attn == "auto":
        attn = "flash_attention_2" if flash_attn_available() else "sdpa"
        if cuda and attn == "sdpa":
            log.warning("flash-attn is not installed: using SDPA attention (pip install '.[gpu]')")
    elif attn == "flash_attention_2" and not flash_attn_available():
        raise RuntimeError(
            "config key 'device.attn_implementation' is flash_attention_2 but flash-attn is not "
            "installed or there is no GPU; use 'auto' or 'sdpa'"
        )
    settings = DeviceSettings("cuda" if cuda else "cpu", DTYPES[dtype_name], attn)
    log.info("device settings: %s", settings.as_dict())
    return settings
