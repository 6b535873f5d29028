"""The ladder in the whole workflow: a `sizes` list over the demo's arms expands every stage per size,
both families at each size, and the cross-objective arms follow the ladder (a dry run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

SIZES = ["demo-tiny", "jmini-tiny"]


def ladder_config(repo_root: Path) -> dict:
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    native = {"steps": ["stage1", "stage2"], "sizes": SIZES, "study": "ladder"}
    config["arms"] = [
        *config["arms"],
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
    # The study's tables set the paper's arms beside the ladder: their jobs are planned too.
    paper = [a for a in config["arms"] if not a.get("study")]
    paper_pretrained = sum(1 for a in paper if a.get("steps"))
    assert counts["pretrain_model"] == (paper_pretrained + 2 * sizes) * 2 * seeds  # two stages each
    assert counts["continue_cross_objective"] == 2 * sizes * seeds
    # Four models per size (native encoder, decoder -> MLM, native decoder, encoder -> CLM), each
    # embedding-trained, and both objectives' validation losses measured for each.
    embed_stages = len(config["embed"]["stages"])
    assert counts["train_embedding_model"] == (len(paper) + 4 * sizes) * seeds * embed_stages
    assert counts["make_ladder_losses"] == 4 * sizes * seeds
    assert counts["plot_ladder"] == counts["make_ladder_tables"] == 1
