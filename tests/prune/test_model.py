"""The pruned model: the same function as the original with those MLPs bypassed, really smaller, and
a plain SentenceTransformer directory that reloads without remote code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from prune_models import ARM_IDS, LAYERS, TEXTS
from safetensors import safe_open
from sentence_transformers import SentenceTransformer
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

from twinarch.embed.model import save_embedding_model
from twinarch.prune.model import (
    drop_mlps,
    family_of,
    load_pruned_model,
    mlp_branch_parameters,
    non_embedding_parameters,
    register_pruned_architectures,
)

DROP = [0, 2]


def token_embeddings(model: SentenceTransformer) -> list[torch.Tensor]:
    return model.encode(TEXTS, output_value="token_embeddings", convert_to_numpy=False, batch_size=3)


def bypass_mlps(model: SentenceTransformer, layers: list[int]) -> list:
    """Hooks that make the MLPs of `layers` return zeros: the unpruned model with them bypassed."""
    network = model[0].auto_model
    return [network.layers[i].mlp.register_forward_hook(lambda _m, _a, out: torch.zeros_like(out)) for i in layers]


@pytest.mark.parametrize("name", ARM_IDS)
def test_pruned_outputs_equal_the_original_with_those_mlps_bypassed(embedding_dirs, name):
    original = load_pruned_model(embedding_dirs[name])
    handles = bypass_mlps(original, DROP)
    expected = token_embeddings(original)
    for handle in handles:
        handle.remove()
    assert not torch.allclose(token_embeddings(original)[0], expected[0])  # the MLPs do something

    pruned = drop_mlps(load_pruned_model(embedding_dirs[name]), DROP)
    got = token_embeddings(pruned)
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))
    network = pruned[0].auto_model
    assert network.config.dropped_mlp_layers == DROP
    for index, layer in enumerate(network.layers):
        has_branch = hasattr(layer, "mlp") and hasattr(layer, family_of(network).mlp_norm)
        assert has_branch == (index not in DROP)


@pytest.mark.parametrize("name", ARM_IDS)
def test_parameter_counts_drop_by_exactly_the_mlp_branches(embedding_dirs, name):
    model = load_pruned_model(embedding_dirs[name])
    network = model[0].auto_model
    # Counted from the modules themselves: the MLP and its pre-norm, nothing else.
    norm = family_of(network).mlp_norm
    branch = sum(
        p.numel()
        for i in DROP
        for module in (network.layers[i].mlp, getattr(network.layers[i], norm))
        for p in module.parameters()
    )
    assert branch == sum(mlp_branch_parameters(network, i) for i in DROP) > 0
    before = non_embedding_parameters(model)
    drop_mlps(model, DROP)
    assert before - non_embedding_parameters(model) == branch
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.state_dict().values())


@pytest.mark.parametrize("name", ARM_IDS)
def test_the_saved_model_reloads_with_the_same_outputs_and_without_the_dropped_weights(embedding_dirs, name, tmp_path):
    pruned = drop_mlps(load_pruned_model(embedding_dirs[name]), DROP)
    expected = pruned.encode(TEXTS, convert_to_tensor=True)
    saved = save_embedding_model(pruned, tmp_path / "model")

    with safe_open(str(saved / "model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
    norm = family_of(pruned[0].auto_model).mlp_norm
    for index in range(LAYERS):
        branch = {k for k in keys if k.startswith((f"layers.{index}.mlp.", f"layers.{index}.{norm}."))}
        assert bool(branch) == (index not in DROP), (index, sorted(branch))
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    assert config["dropped_mlp_layers"] == DROP and config["model_type"].startswith("twinarch_pruned_")
    modules = json.loads((saved / "modules.json").read_text(encoding="utf-8"))
    assert all(m["type"].startswith("sentence_transformers.") for m in modules)

    register_pruned_architectures()
    reloaded = SentenceTransformer(str(saved), local_files_only=True, trust_remote_code=False)
    assert reloaded[0].auto_model.config.dropped_mlp_layers == DROP
    assert torch.allclose(reloaded.encode(TEXTS, convert_to_tensor=True), expected, atol=1e-6)
    assert getattr(reloaded[0].auto_model.config, "is_causal", None) == getattr(
        pruned[0].auto_model.config, "is_causal", None
    )


def test_a_process_that_does_not_know_the_pruned_architectures_refuses_the_directory(embedding_dirs, tmp_path):
    """Never a silent re-initialisation of the dropped MLPs: the unknown model type stops the load."""
    saved = save_embedding_model(drop_mlps(load_pruned_model(embedding_dirs["llama-bi"]), DROP), tmp_path / "model")
    code = f"from sentence_transformers import SentenceTransformer; SentenceTransformer({str(saved)!r}, local_files_only=True)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "twinarch_pruned_llama" in proc.stderr


def test_dropping_twice_or_outside_the_model_is_refused(embedding_dirs):
    model = drop_mlps(load_pruned_model(embedding_dirs["modernbert"]), [1])
    with pytest.raises(ValueError, match="already dropped"):
        drop_mlps(model, [1])
    with pytest.raises(ValueError, match=f"{LAYERS} layers"):
        drop_mlps(model, [LAYERS])
    drop_mlps(model, [3])
    assert model[0].auto_model.config.dropped_mlp_layers == [1, 3]
