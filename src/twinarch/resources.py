"""Per-rule cluster resources from the config (`mem_mb`, `runtime`, `gpu`, `cpus_per_gpu`, ...).

Rules declare `resources: **rule_resources("<group>")`; the numbers live in `config.resources`, so
the demo asks for nothing special and the paper config sizes each stage. Partition and account stay
in the cluster profile, never here.
"""

from __future__ import annotations

from typing import Any, Mapping

DEFAULT_GROUP = "default"


def rule_resources(config: Mapping[str, Any], group: str) -> dict[str, Any]:
    """`config.resources.default` overlaid with `config.resources.<group>` (missing group: defaults)."""
    section = config.get("resources", {}) or {}
    merged = dict(section.get(DEFAULT_GROUP, {}) or {})
    merged.update(section.get(group, {}) or {})
    return merged


def processes_per_node(resources: Mapping[str, Any]) -> int:
    """One training process per GPU the job holds; one when it holds none."""
    return max(1, int(resources.get("gpu", 0) or 0))
