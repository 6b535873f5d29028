"""LLM-Drop's MLP importance: a silent MLP is the least important, padding never counts, and the job
writes per-layer scores with the ranking."""

from __future__ import annotations

import json

import pytest
import torch
from prune_models import ARM_IDS, LAYERS, TEXTS
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

from twinarch.core.device import DeviceSettings
from twinarch.core.io import atomic_write_jsonl
from twinarch.prune.config import Calibration
from twinarch.prune.importance import drop_order, mlp_similarities, rank_mlp_layers
from twinarch.prune.model import drop_mlps, load_pruned_model

CPU = DeviceSettings("cpu", torch.float32, "sdpa")
SILENT = 2


def silence_mlp(model, index: int) -> None:
    """Zero the MLP's output projection: the branch then adds exactly nothing to the stream."""
    mlp = model[0].auto_model.layers[index].mlp
    output = mlp.down_proj if hasattr(mlp, "down_proj") else mlp.Wo
    with torch.no_grad():
        output.weight.zero_()


@pytest.mark.parametrize("name", ARM_IDS)
def test_an_mlp_whose_output_is_zero_has_the_highest_similarity_and_goes_first(embedding_dirs, name):
    model = load_pruned_model(embedding_dirs[name])
    silence_mlp(model, SILENT)
    similarities, tokens = mlp_similarities(model, TEXTS, batch_size=4, max_length=32)
    assert len(similarities) == LAYERS and tokens > len(TEXTS)
    assert similarities[SILENT] == pytest.approx(1.0, abs=1e-6)
    assert max(s for i, s in enumerate(similarities) if i != SILENT) < 1.0 - 1e-4
    assert drop_order(similarities)[0] == SILENT


@pytest.mark.parametrize("name", ARM_IDS)
def test_padding_tokens_never_count(embedding_dirs, name):
    """One text per batch (no padding) and all texts in one padded batch give the same token means."""
    model = load_pruned_model(embedding_dirs[name])
    alone, alone_tokens = mlp_similarities(model, TEXTS, batch_size=1, max_length=32)
    padded, padded_tokens = mlp_similarities(model, TEXTS, batch_size=len(TEXTS), max_length=32)
    assert alone_tokens == padded_tokens
    assert padded == pytest.approx(alone, abs=1e-5)


def test_the_drop_order_puts_the_most_similar_first_and_breaks_ties_by_layer():
    assert drop_order([0.5, 0.9, 0.7, 0.9]) == [1, 3, 2, 0]


def test_a_pruned_network_is_not_scored_again(embedding_dirs):
    model = drop_mlps(load_pruned_model(embedding_dirs["llama-bi"]), [1])
    with pytest.raises(ValueError, match="unpruned"):
        mlp_similarities(model, TEXTS, batch_size=2, max_length=16)


def test_rank_mlp_layers_writes_scores_ranking_and_provenance(embedding_dirs, tmp_path):
    queries, passages = tmp_path / "queries.jsonl", tmp_path / "passages.jsonl"
    atomic_write_jsonl(queries, [{"question": t} for t in TEXTS[:3]])
    atomic_write_jsonl(passages, [{"text": t} for t in TEXTS[3:]])
    section = {
        "texts": [{"path": str(queries), "text_field": "question"}, {"path": str(passages), "max_rows": 2}],
        "max_length": 32,
        "batch_size": 2,
    }
    out = tmp_path / "importance.json"
    rank_mlp_layers(
        model_dir=embedding_dirs["modernbert"],
        calibration=Calibration.from_section(section, data_root="unused"),
        device=CPU,
        seed=0,
        labels={"arm": "modernbert", "estage": "ft"},
        out_json=out,
        fragment=section,
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["num_texts"] == 3 + 2 and result["num_layers"] == LAYERS
    assert sorted(result["ranking"]) == list(range(LAYERS))
    assert result["ranking"] == drop_order(result["similarity"])
    assert result["importance"] == pytest.approx([1 - s for s in result["similarity"]])
    assert result["arm"] == "modernbert" and len(result["provenance"]["config_hash"]) == 16
