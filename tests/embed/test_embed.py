"""Contrastive training: task-homogeneous batches, and WSL + FT beating the pretrain-only model."""

from __future__ import annotations

import bisect
import json
from itertools import accumulate
from pathlib import Path

import pytest
import torch
from datasets import load_from_disk
from tiny_models import one_torch_thread, save_tiny_pretrained, tiny_arm  # noqa: F401 (autouse fixture)

from twinarch.core.device import resolve_device_settings
from twinarch.core.io import iter_jsonl
from twinarch.data.synthetic import SyntheticConfig, generate_synthetic_data, synthetic_output_files
from twinarch.embed.config import EmbedStage
from twinarch.embed.data import write_stage_datasets
from twinarch.embed.model import load_embedding_model
from twinarch.embed.run import build_base_model, build_trainer, count_truncated, train_stage
from twinarch.pretrain.models import initialize_model

SMALL_WORLD = SyntheticConfig(
    topics=8,
    entities_per_topic=20,
    pairs_per_dataset=300,
    triplets=300,
    queries=100,
    pretrain_documents=10,
    sts_pairs=10,
    news_articles=10,
    sentiment_sentences=10,
)
TRAINING = {"max_seq_length": 48, "learning_rate": 2e-3, "save_steps": 1000, "logging_steps": 5, "epochs": 2}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    files = synthetic_output_files(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_data(SMALL_WORLD, 0, files)
    return files


def stage_config(synthetic: dict[str, str], name: str, **overrides) -> dict:
    if name == "wsl":
        datasets = {
            "pairs": {
                "type": "local",
                "path": synthetic["pairs"],
                "columns": {"anchor": "anchor", "positive": "positive"},
                "split_by": "dataset",
            }
        }
        base = {"per_device_batch_size": 32, "mini_batch_size": 16}
    else:
        datasets = {
            "triplets": {
                "type": "local",
                "path": synthetic["triplets"],
                "columns": {"anchor": "question", "positive": "positive", "hard_negatives": "hard_negatives"},
            }
        }
        base = {"per_device_batch_size": 32, "mini_batch_size": 32, "num_hard_negatives": 2}
    return {"name": name, "datasets": datasets, **TRAINING, **base, **overrides}


@pytest.mark.parametrize("mixing", ["proportional", "round_robin", "size_weighted"])
def test_every_training_batch_holds_rows_of_one_dataset(synthetic, tiny_tokenizer_dir, tmp_path, mixing):
    raw = stage_config(synthetic, "wsl", mixing=mixing, per_device_batch_size=8)
    raw["datasets"]["pairs"]["max_rows"] = None
    stage = EmbedStage.from_dict(raw)
    # Unequal sizes, so proportional and size-weighted mixing differ from round-robin.
    write_stage_datasets(stage, 0, tmp_path / "data", tmp_path / "manifest.json", {})
    datasets = load_from_disk(str(tmp_path / "data"))
    datasets["pairs_synthetic_qa"] = datasets["pairs_synthetic_qa"].select(range(100))
    pretrained = save_tiny_pretrained("llama", tiny_tokenizer_dir, tmp_path / "pretrained")
    build_base_model(
        tiny_arm("llama"),
        str(pretrained),
        tmp_path / "base",
        tmp_path / "base.json",
        normalize=False,
        max_seq_length=64,
    )
    trainer = build_trainer(
        load_embedding_model(tmp_path / "base"), datasets, stage, tmp_path / "work", 0, resolve_device_settings()
    )
    sampler = trainer.get_train_dataloader().batch_sampler
    names = list(datasets)
    ends = list(accumulate(len(datasets[n]) for n in names))
    batches = list(sampler)
    owners = [{names[bisect.bisect_right(ends, i)] for i in batch} for batch in batches]
    assert all(len(o) == 1 for o in owners)
    assert {o.pop() for o in owners} == set(names)
    assert all(1 <= len(b) <= 8 for b in batches)


@pytest.mark.parametrize("family", ["modernbert", "llama"])
def test_a_control_base_model_draws_the_random_weights_of_its_seed(tiny_tokenizer_dir, tmp_path, family):
    """A no-pretraining control has no network to wrap: its base model draws the arm's random
    weights from the model config and the replicate seed, the same as a saved init of that seed."""
    arm = tiny_arm(family)
    config_dir = save_tiny_pretrained(family, tiny_tokenizer_dir, tmp_path / "config")
    init = {"model_config": str(config_dir / "config.json"), "tokenizer": str(tiny_tokenizer_dir), "seed": 3}
    settings = {"normalize": False, "max_seq_length": 64}
    build_base_model(arm, None, tmp_path / "drawn", tmp_path / "drawn.json", random_init=init, **settings)
    saved = initialize_model(config_dir, tiny_tokenizer_dir, family, 3, tmp_path / "saved_init")
    build_base_model(arm, str(saved), tmp_path / "wrapped", tmp_path / "wrapped.json", **settings)
    drawn = load_embedding_model(tmp_path / "drawn").state_dict()
    wrapped = load_embedding_model(tmp_path / "wrapped").state_dict()
    assert drawn.keys() == wrapped.keys() and all(torch.equal(drawn[k], wrapped[k]) for k in drawn)
    assert json.loads((tmp_path / "drawn.json").read_text(encoding="utf-8"))["source"] == "random (seed 3)"
    with pytest.raises(ValueError, match="no backbone"):
        build_base_model(arm, None, tmp_path / "x", tmp_path / "x.json", **settings)


def heldout_retrieval_accuracy(model_dir: Path, synthetic: dict[str, str]) -> float:
    """Top-1 accuracy of held-out questions against their gold passages (in-batch candidates)."""
    passages = {r["pid"]: r["text"] for r in iter_jsonl(synthetic["passages"])}
    queries = list(iter_jsonl(synthetic["queries"]))[:100]
    model = load_embedding_model(model_dir)
    q = model.encode([r["question"] for r in queries], convert_to_tensor=True, normalize_embeddings=True)
    p = model.encode([passages[r["pid"]] for r in queries], convert_to_tensor=True, normalize_embeddings=True)
    return (q @ p.T).argmax(dim=1).eq(torch.arange(len(queries))).float().mean().item()


def test_wsl_then_ft_beats_the_pretrain_only_model_on_heldout_retrieval(synthetic, tiny_tokenizer_dir, tmp_path):
    arm = tiny_arm("llama")
    pretrained = save_tiny_pretrained("llama", tiny_tokenizer_dir, tmp_path / "pretrained")
    build_base_model(
        arm,
        str(pretrained),
        tmp_path / "base/model",
        tmp_path / "base/manifest.json",
        normalize=False,
        max_seq_length=64,
    )
    previous = tmp_path / "base/model"
    manifests = {}
    for name in ("wsl", "ft"):
        raw = stage_config(synthetic, name)
        write_stage_datasets(
            EmbedStage.from_dict(raw), 0, tmp_path / f"data/{name}", tmp_path / f"data/{name}.json", raw
        )
        spec = {
            "arm": arm.__dict__,
            "stage": raw,
            "seed": 0,
            "device": {},
            "init_model": str(previous),
            "data_dir": str(tmp_path / f"data/{name}"),
            "data_manifest": str(tmp_path / f"data/{name}.json"),
            "work_dir": str(tmp_path / f"work/{name}"),
            "out_model": str(tmp_path / f"{name}/model"),
            "out_manifest": str(tmp_path / f"{name}/manifest.json"),
        }
        manifests[name] = train_stage(spec)
        previous = tmp_path / f"{name}/model"
    before = heldout_retrieval_accuracy(tmp_path / "base/model", synthetic)
    after = heldout_retrieval_accuracy(tmp_path / "ft/model", synthetic)
    assert after > before + 0.08, (before, after)

    wsl, ft = manifests["wsl"], manifests["ft"]
    assert {d["name"] for d in wsl["datasets"]} == {
        "pairs_synthetic_paraphrase",
        "pairs_synthetic_qa",
        "pairs_synthetic_title_body",
    }
    assert wsl["steps"] > 0 and wsl["loss_scale"] == pytest.approx(100.0)
    assert ft["init_model"].endswith("wsl/model") and ft["datasets"][0]["columns"][2:] == ["negative_1", "negative_2"]
    assert json.loads((tmp_path / "ft/manifest.json").read_text())["provenance"]["config_hash"]
    assert json.loads((tmp_path / "ft/model/config.json").read_text())["is_causal"] is False


def test_texts_over_the_length_limit_are_counted(synthetic, tiny_tokenizer_dir, tmp_path):
    pretrained = save_tiny_pretrained("modernbert", tiny_tokenizer_dir, tmp_path / "pretrained")
    build_base_model(
        tiny_arm("modernbert"),
        str(pretrained),
        tmp_path / "base",
        tmp_path / "base.json",
        normalize=True,
        max_seq_length=16,
    )
    model = load_embedding_model(tmp_path / "base")
    from datasets import Dataset, DatasetDict

    short, long = "短い文。", "とても長い文章です。" * 20
    datasets = DatasetDict({"d": Dataset.from_dict({"anchor": [short, long], "positive": [long, long]})})
    assert count_truncated(model, datasets, None) == {"d": 3}
    assert count_truncated(model, datasets, {"d": {"anchor": short * 10}}) == {"d": 4}
