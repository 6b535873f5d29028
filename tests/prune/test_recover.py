"""Recovery training: the embedding stage's contrastive trainer runs on a pruned model and keeps it pruned."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from prune_models import TEXTS
from safetensors import safe_open
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

from twinarch.embed.config import EmbedStage
from twinarch.embed.data import write_stage_datasets
from twinarch.embed.model import save_embedding_model
from twinarch.prune.model import drop_mlps, load_pruned_model
from twinarch.prune.recover import main as recover

DROP = [1, 3]


def recovery_stage(shared_data: Path) -> dict:
    """A tiny FT-like stage on real JaQuAD questions and their passages."""
    jaquad = shared_data / "jaquad"
    return {
        "name": "recovery",
        "datasets": {
            "jaquad": {
                "type": "local",
                "path": str(jaquad / "jaquad_train_queries.jsonl"),
                "columns": {"anchor": "question", "positive": "pid"},
                "lookup": {
                    "path": str(jaquad / "jaquad_train_passages.jsonl"),
                    "key": "pid",
                    "text": "text",
                    "columns": ["positive"],
                },
                "max_rows": 48,
            }
        },
        "max_seq_length": 32,
        "per_device_batch_size": 8,
        "mini_batch_size": 8,
        "learning_rate": 1e-3,
        "save_steps": 1000,
        "logging_steps": 2,
    }


@pytest.mark.parametrize("name", ["modernbert", "llama-bi"])
def test_recovery_trains_the_pruned_model_and_it_stays_pruned(embedding_dirs, shared_data, tmp_path, name):
    dropped = save_embedding_model(drop_mlps(load_pruned_model(embedding_dirs[name]), DROP), tmp_path / "dropped")
    stage = recovery_stage(shared_data)
    write_stage_datasets(EmbedStage.from_dict(stage), 0, tmp_path / "data", tmp_path / "data.json", {})
    family = "modernbert" if name == "modernbert" else "llama"
    spec = {
        "arm": {"name": name, "family": family, "bidirectional": True, "pooling": "mean"},
        "stage": stage,
        "seed": 0,
        "device": {"dtype": "float32", "attn_implementation": "sdpa"},
        "threads": 1,
        "init_model": str(dropped),
        "data_dir": str(tmp_path / "data"),
        "data_manifest": str(tmp_path / "data.json"),
        "work_dir": str(tmp_path / "work"),
        "out_model": str(tmp_path / "recovered"),
        "out_manifest": str(tmp_path / "recovered.json"),
    }
    recover(spec)

    manifest = json.loads((tmp_path / "recovered.json").read_text(encoding="utf-8"))
    assert manifest["steps"] == 6 and math.isfinite(manifest["train_loss"]) and manifest["estage"] == "recovery"
    before, after = load_pruned_model(dropped), load_pruned_model(tmp_path / "recovered")
    assert after[0].auto_model.config.dropped_mlp_layers == DROP
    assert not torch.allclose(before.encode(TEXTS, convert_to_tensor=True), after.encode(TEXTS, convert_to_tensor=True))
    with safe_open(str(tmp_path / "recovered" / "model.safetensors"), "pt") as weights:
        assert not any(key.startswith((f"layers.{i}.mlp.",)) for key in weights.keys() for i in DROP)
