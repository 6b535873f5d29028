"""The ladder in the whole workflow: a `sizes` list over the demo's arms expands every stage per size,
both families at each size, and the cross-objective arms follow the ladder (a dry run); and the
ladder target runs at demo scale for two sizes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from demo_ladder import without_demo_ladder

SIZES = ["demo-tiny", "jmini-tiny"]


def ladder_config(repo_root: Path) -> dict:
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    native = {"steps": ["stage1", "stage2"], "sizes": SIZES, "study": "ladder"}
    config["arms"] = [
        *without_demo_ladder(config["arms"]),
        {"name": "ladder_encoder", "display_name": "Enc", "family": "modernbert", "objective": "mlm", **native},
        {"name": "ladder_decoder", "display_name": "Dec", "family": "llama", "objective": "clm", **native},
        {"name": "ladder_decoder_mlm", "display_name": "Dec -> MLM", "family": "llama", "extends": "ladder_decoder",
         "steps": ["to_mlm"], "study": "ladder"},
        {"name": "ladder_encoder_clm", "display_name": "Enc -> CLM", "family": "modernbert",
         "extends": "ladder_encoder", "steps": ["to_clm"], "study": "ladder"},
    ]  # fmt: skip
    config["ladder"] = {
        "cross_objective": [
            {"name": "to_mlm", "kind": "continue_mlm", "shards": "stage2", "token_budget": 4096},
            {"name": "to_clm", "kind": "continue_clm", "shards": "stage2", "token_budget": 4096},
        ]
    }
    config["studies"] = ["ladder"]
    return config


def planned(proc) -> dict[str, int]:
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.MULTILINE)}


@pytest.mark.slow
def test_the_dry_run_plans_every_stage_once_per_size_family_and_seed(repo_root, tmp_path, snakemake_run):
    config = ladder_config(repo_root)
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    counts = planned(snakemake_run("ladder", configfile=str(path), extra=["-n"]))
    seeds, sizes = len(config["seeds"]), len(SIZES)
    # The study's tables set the paper's arms beside the ladder: their jobs are planned too. The
    # demo-tiny rung trains what the paper's encoder and decoder train: it is them, not a retraining.
    paper = [a for a in config["arms"] if not a.get("study")]
    paper_pretrained = sum(1 for a in paper if a.get("steps"))
    assert counts["pretrain_model"] == (paper_pretrained + 2 * (sizes - 1)) * 2 * seeds  # two stages each
    assert counts["continue_cross_objective"] == 2 * sizes * seeds
    # Four models per size (native encoder, decoder -> MLM, native decoder, encoder -> CLM), each
    # embedding-trained, and both objectives' validation losses measured for each.
    embed_stages = len(config["embed"]["stages"])
    assert counts["train_embedding_model"] == (len(paper) + 4 * sizes - 2) * seeds * embed_stages
    assert counts["make_ladder_losses"] == 4 * sizes * seeds
    assert counts["plot_ladder"] == counts["make_ladder_tables"] == counts["count_ladder_params"] == 1


def small_ladder_run_config(repo_root: Path) -> dict:
    """The demo cut to the ladder and what its tables set beside it: the equal-size pair, one seed,
    two sizes (a 2-layer preset and demo-tiny), small data and budgets."""
    config = ladder_config(repo_root)
    config["arms"] = [a for a in config["arms"] if a["name"] in ("encoder", "decoder") or a.get("study") == "ladder"]
    for arm in config["arms"]:
        if arm.get("sizes"):
            arm["sizes"] = ["ladder-nano", "demo-tiny"]
    config["models"]["presets"] = {
        "ladder-nano": {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2}
    }
    for section in ("prune", "sensitivity", "llm2vec"):
        config.pop(section, None)
    config["seeds"] = [0]
    config["synthetic"].update(
        topics=6, entities_per_topic=12, pretrain_documents=120, pairs_per_dataset=80, triplets=80,
        sts_pairs=20, queries=20, news_articles=20, sentiment_sentences=20,
    )  # fmt: skip
    config["shards"]["validation_fraction"] = 0.2  # 120 documents: a few complete validation blocks
    for stage, budget in zip(config["pretrain"]["stages"], (4096, 2048), strict=True):
        stage.update(token_budget=budget, eval_every_steps=2)
    for stage in config["embed"]["stages"]:
        stage.update(max_rows_per_dataset=48, max_seq_length=32, save_steps=2)
    for step in config["ladder"]["cross_objective"]:
        step.update(token_budget=2048, eval_every_steps=2, checkpoint_every_steps=2)
    return config


@pytest.mark.slow
def test_the_ladder_runs_at_demo_scale_for_two_sizes(repo_root, tmp_path, snakemake_run):
    """Both families at two sizes, each continued with the other objective, all four embedding-trained
    and scored, both objectives' losses measured, and the figure and tables written."""
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(small_ladder_run_config(repo_root), allow_unicode=True), encoding="utf-8")
    workdir = tmp_path / "run"
    snakemake_run("ladder", configfile=str(path), workdir=workdir)

    results = workdir / "results"
    assert all((results / "figures" / f"ladder{s}").stat().st_size > 0 for s in (".pdf", ".png"))
    for size in ("ladder_nano", "demo_tiny"):
        # A decoder continued with MLM is saved bidirectional; an encoder continued with CLM reloads as
        # a plain ModernBERT (bidirectional again for embedding training).
        mlm = json.loads((results / f"ladder/ladder_decoder_mlm_{size}/seed_0/to_mlm/model/config.json").read_text())
        assert mlm["is_causal"] is False and mlm["model_type"] == "llama"
        clm = json.loads((results / f"ladder/ladder_encoder_clm_{size}/seed_0/to_clm/model/config.json").read_text())
        assert clm["model_type"] == "modernbert"
    tables = {p.name for p in (results / "tables").glob("ladder*.csv")}
    assert {"ladder.csv", "ladder_cross_objective_ladder-nano.csv", "ladder_cross_objective_demo-tiny.csv"} <= tables
    cross = pd.read_csv(results / "tables" / "ladder_cross_objective_demo-tiny.csv")
    assert len(cross) == 4  # native encoder, decoder -> MLM, native decoder, encoder -> CLM
    assert cross[["MLM loss", "CLM loss"]].notna().all().all() and (cross[["MLM loss", "CLM loss"]] > 0).all().all()
