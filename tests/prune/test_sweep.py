"""The k-sweep's pruning and reload path: rank once, drop k = 1 and k = 2, reload each from disk."""

from __future__ import annotations

import json

import pytest
import torch
from prune_models import ARM_IDS, LAYERS, TEXTS
from safetensors import safe_open
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

from twinarch.core.config import ConfigError
from twinarch.core.device import DeviceSettings
from twinarch.core.io import atomic_write_jsonl
from twinarch.prune.config import Calibration
from twinarch.prune.drop import prune_model
from twinarch.prune.importance import rank_mlp_layers
from twinarch.prune.model import load_pruned_model, non_embedding_parameters

CPU = DeviceSettings("cpu", torch.float32, "sdpa")


@pytest.fixture()
def ranked(embedding_dirs, tmp_path, request):
    name = request.param
    texts = tmp_path / "texts.jsonl"
    atomic_write_jsonl(texts, [{"text": t} for t in TEXTS])
    section = {"texts": [{"path": str(texts)}], "max_length": 32, "batch_size": 3}
    rank_mlp_layers(
        model_dir=embedding_dirs[name],
        calibration=Calibration.from_section(section, data_root="unused"),
        device=CPU,
        seed=0,
        labels={"arm": name},
        out_json=tmp_path / "importance.json",
        fragment=section,
    )
    return name, tmp_path / "importance.json"


@pytest.mark.parametrize("ranked", ARM_IDS, indirect=True)
def test_the_sweep_drops_the_k_most_similar_mlps_and_each_model_reloads(embedding_dirs, ranked, tmp_path):
    name, importance_json = ranked
    ranking = json.loads(importance_json.read_text(encoding="utf-8"))["ranking"]
    full = non_embedding_parameters(load_pruned_model(embedding_dirs[name]))
    counts = {}
    for k in (1, 2):
        out = tmp_path / f"drop{k}"
        manifest = prune_model(
            model_dir=embedding_dirs[name],
            importance_json=importance_json,
            k=k,
            labels={"arm": name},
            out_model=out / "model",
            out_manifest=out / "manifest.json",
            fragment={"k": k},
        )
        assert manifest["dropped_mlp_layers"] == sorted(ranking[:k])
        assert manifest["non_embedding_params_before"] == full
        assert manifest["non_embedding_params"] == full - manifest["removed_params"]

        reloaded = load_pruned_model(out / "model")
        assert reloaded[0].auto_model.config.dropped_mlp_layers == sorted(ranking[:k])
        assert non_embedding_parameters(reloaded) == manifest["non_embedding_params"]
        with safe_open(str(out / "model" / "model.safetensors"), "pt") as weights:
            layers_with_mlp = {int(key.split(".")[1]) for key in weights.keys() if ".mlp." in key}
        assert layers_with_mlp == set(range(LAYERS)) - set(ranking[:k])
        assert torch.isfinite(reloaded.encode(TEXTS, convert_to_tensor=True)).all()
        counts[k] = manifest["non_embedding_params"]
    # Every family's MLPs have the same shape: the second MLP costs what the first did.
    assert full - counts[1] == counts[1] - counts[2] > 0


@pytest.mark.parametrize("ranked", ["llama-bi"], indirect=True)
def test_more_mlps_than_layers_is_a_config_error(embedding_dirs, ranked, tmp_path):
    name, importance_json = ranked
    with pytest.raises(ConfigError, match="prune.ks"):
        prune_model(
            model_dir=embedding_dirs[name],
            importance_json=importance_json,
            k=LAYERS + 1,
            labels={"arm": name},
            out_model=tmp_path / "model",
            out_manifest=tmp_path / "manifest.json",
            fragment={},
        )
