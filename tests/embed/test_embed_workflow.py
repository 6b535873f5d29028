"""The embed stage through Snakemake: base -> wsl -> ft for a pretrained-decoder arm on demo data."""

from __future__ import annotations

import json

import pytest
import yaml
from tiny_models import save_tiny_pretrained

from twinarch.embed.model import load_embedding_model


@pytest.mark.slow
def test_embed_target_builds_every_estage_of_a_pretrained_arm(snakemake_run, repo_root, tiny_tokenizer_dir, tmp_path):
    # An arm with init: pretrained from a local directory skips pretraining, as the paper's
    # Sarashina arm does from the hub; the rest of the demo config is kept, only made smaller.
    pretrained = save_tiny_pretrained("llama", tiny_tokenizer_dir, tmp_path / "pretrained_llama")
    config = yaml.safe_load((repo_root / "config/config.yaml").read_text(encoding="utf-8"))
    config["arms"] = [
        {
            "name": "decoder",
            "display_name": "tiny pretrained decoder",
            "family": "llama",
            "objective": "clm",
            "size": "from-pretrained",
            "init": "pretrained",
            "init_from": str(pretrained),
            "steps": [],
            "bidirectional": True,
            "pooling": "mean",
        }
    ]
    # One arm: the extension studies, whose sections name the demo's encoder, are left out.
    config["studies"] = []
    for section in ("prune", "sensitivity"):
        config.pop(section)
    config["synthetic"].update(
        topics=6,
        entities_per_topic=12,
        pretrain_documents=50,
        pairs_per_dataset=80,
        triplets=80,
        sts_pairs=10,
        queries=10,
        news_articles=10,
        sentiment_sentences=10,
    )
    config["seeds"] = [3]  # one replicate seed, not the default's
    config["resources"]["embed"]["cpus_per_task"] = 1  # one torch thread: no spinning on a shared CPU
    for stage in config["embed"]["stages"]:
        stage.update(max_rows_per_dataset=64, max_seq_length=32, save_steps=2)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    workdir = tmp_path / "wd"

    snakemake_run("embed", configfile=str(configfile), workdir=workdir)

    arm_dir = workdir / "results/embed/decoder/seed_3"
    for estage in ("base", "wsl", "ft"):
        manifest = json.loads((arm_dir / estage / "manifest.json").read_text())
        assert manifest["provenance"]["config_hash"]
        assert json.loads((arm_dir / estage / "model/config.json").read_text())["is_causal"] is False
    ft = json.loads((arm_dir / "ft/manifest.json").read_text())
    assert ft["init_model"] == "results/embed/decoder/seed_3/wsl/model"
    assert ft["steps"] > 0 and ft["datasets"][0]["rows_used"] == 64
    assert (workdir / "work/embed/decoder/seed_3/ft").is_dir()  # checkpoints, kept for resuming
    data = json.loads((workdir / "results/data/contrastive/wsl/manifest.json").read_text())
    assert len(data["datasets"]) == 3
    assert load_embedding_model(arm_dir / "ft/model").encode(["テスト"]).shape == (1, 32)
