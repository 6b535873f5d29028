"""Dropping the k least important MLPs of an embedding model and saving the smaller model.

The k MLPs come first in the importance ranking (twinarch.prune.importance); the weights are copied
exactly (float32 on the CPU, as the embedding stage saves them), and the manifest says which layers
lost their MLPs and how many parameters went with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.core.io import atomic_write_json, read_json
from twinarch.core.provenance import provenance
from twinarch.embed.model import save_embedding_model
from twinarch.prune.model import drop_mlps, load_pruned_model, mlp_branch_parameters, non_embedding_parameters

log = logging.getLogger(__name__)


def prune_model(
    *,
    model_dir: str | Path,
    importance_json: str | Path,
    k: int,
    labels: Mapping[str, Any],
    out_model: str | Path,
    out_manifest: str | Path,
    fragment: Any,
) -> dict[str, Any]:
    """Drop the MLPs of the first `k` layers of the ranking; write the model and its manifest."""
    started = time.time()
    importance = read_json(importance_json)
    ranking = importance["ranking"]
    if not 0 < k <= len(ranking):
        raise ConfigError(f"config key 'prune.ks': cannot drop {k} MLPs of a {len(ranking)}-layer model ({model_dir})")
    model = load_pruned_model(model_dir, device="cpu")
    network = model[0].auto_model
    layers = sorted(ranking[:k])
    removed = sum(mlp_branch_parameters(network, i) for i in layers)
    before = non_embedding_parameters(model)
    drop_mlps(model, layers)
    after = non_embedding_parameters(model)
    if before - after != removed:
        raise RuntimeError(f"dropping MLPs {layers} removed {before - after} parameters, not their {removed}")
    save_embedding_model(model, out_model)
    manifest = {
        **labels,
        "k": k,
        "source_model": str(model_dir),
        "dropped_mlp_layers": layers,
        "dropped_similarity": [importance["similarity"][i] for i in layers],
        "num_layers": len(ranking),
        "non_embedding_params_before": before,
        "non_embedding_params": after,
        "removed_params": removed,
        "wall_time_s": round(time.time() - started, 3),
        "provenance": provenance(fragment),
    }
    atomic_write_json(out_manifest, manifest)
    log.info("dropped %d MLPs %s: %d -> %d non-embedding parameters", k, layers, before, after)
    return manifest
