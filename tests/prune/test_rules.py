"""The `prune` section (schema, defaults, cross-key checks) and the stage's input and param functions."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from twinarch.core.config import SCHEMA_PATH, ConfigError, arm_names, load_config
from twinarch.prune.config import PruneSection, check_prune_section
from twinarch.prune.rules import PruneRules
from twinarch.study.rules import StudyLineage

HERE = Path(__file__).parent
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def validated_prune(section: dict, tmp_path: Path) -> dict:
    """The section validated against workflow/schemas/prune.schema.yaml, defaults filled (Snakemake's
    validator, as for the whole config)."""
    from snakemake.utils import validate

    wrapper = tmp_path / "wrapper.schema.yaml"
    ref = (SCHEMA_PATH.parent / "prune.schema.yaml").as_uri() + "#/$defs/prune"
    wrapper.write_text(
        yaml.safe_dump({"$schema": SCHEMA_DIALECT, "type": "object", "properties": {"prune": {"$ref": ref}}}),
        encoding="utf-8",
    )
    config = {"prune": copy.deepcopy(section)}
    validate(config, str(wrapper))
    return config["prune"]


def prune_rules(config: dict) -> PruneRules:
    return PruneRules(config, StudyLineage(config))


@pytest.fixture()
def demo(repo_root: Path) -> dict:
    """The demo config, whose prune section the schema has filled."""
    return load_config(repo_root / "config" / "config.yaml")


def test_the_schema_fills_every_default(demo, tmp_path):
    section = demo["prune"]
    assert section["arms"] == ["encoder", "decoder"] and section["from_stage"] == "ft"
    assert section["evaluate_dropped"] is False  # the demo's own choice: recovered models only
    assert section["throughput"] == {"seq_len": None, "batch_size": None}
    assert section["recovery"]["warmup_ratio"] == 0.1  # the embed stage's own defaults
    check_prune_section(demo)
    minimal = {"ks": [1], "calibration": section["calibration"], "recovery": section["recovery"]}
    filled = validated_prune(minimal, tmp_path)
    assert filled["evaluate_dropped"] is True and filled["from_stage"] == "ft" and filled["arms"] is None


def test_the_schema_rejects_unknown_keys_and_a_k_of_zero(demo, tmp_path):
    from snakemake.exceptions import WorkflowError

    for bad in ({**demo["prune"], "typo": 1}, {**demo["prune"], "ks": [0, 2]}):
        with pytest.raises(WorkflowError):
            validated_prune(bad, tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arms": ["nobody"]}, r"prune\.arms.*nobody"),
        ({"from_stage": "wsl"}, r"prune\.from_stage.*not in evaluate\.stages"),
        ({"from_stage": "sft"}, r"prune\.from_stage.*unknown embedding stage"),
        ({"seeds": [0, 7]}, r"prune\.seeds.*\[7\] are not in config\.seeds"),
    ],
)
def test_cross_key_errors_name_the_key(demo, change, message):
    demo["prune"].update(change)
    with pytest.raises(ConfigError, match=message):
        prune_rules(demo)


def test_every_arm_is_pruned_unless_the_section_names_some(demo):
    demo["prune"]["arms"] = None
    assert prune_rules(demo).arms == arm_names(demo)


def test_without_a_prune_section_the_stage_has_no_jobs(demo):
    del demo["prune"]
    rules = prune_rules(demo)
    assert not rules.enabled and rules.targets() == [] and rules.score_rows() == []


def test_paths_params_and_file_lists(demo):
    demo["prune"].update({"ks": [1, 2], "evaluate_dropped": True})  # both variants scored
    rules = prune_rules(demo)
    wildcards = SimpleNamespace(arm="decoder", seed="0", k="2", variant="recovered")
    assert rules.arms == ["encoder", "decoder"]
    assert rules.ks == [1, 2]
    arms, seeds = len(rules.arms), len(rules.pruned_seeds)
    assert rules.source_model(wildcards) == "results/embed/decoder/seed_0/ft/model"
    assert rules.path("importance.json", "decoder", 0) == "results/prune/decoder/seed_0/ft/importance.json"
    dropped = "results/prune/{arm}/seed_{seed}/ft/drop{k}/dropped/model"
    assert rules.path("dropped/model", "{arm}", "{seed}", "{k}") == dropped
    assert rules.path("throughput.csv") == "results/prune/throughput.csv"
    assert rules.work_dir(wildcards) == "work/prune/decoder/seed_0/ft/drop2"
    assert rules.stage_label(wildcards) == "ft-drop2-recovered"
    assert rules.k(wildcards) == 2
    assert (
        rules.score_outputs(".json")[0]
        == "results/prune/{arm}/seed_{seed}/ft/drop{k}/{variant}/scores/SyntheticSTS.json"
    )
    assert [e["name"] for e in rules.task_entries(wildcards)] == rules.tasks
    assert "stages" not in rules.evaluate_settings(wildcards) and rules.resampling(wildcards)["n_resamples"] > 0
    assert rules.calibration_files(wildcards) == ["results/data/synthetic/synthetic_triplets.jsonl"] * 2
    assert rules.recovery_files(wildcards) == ["results/data/synthetic/synthetic_triplets.jsonl"]
    # Checkpoint and logging intervals are not params: editing them retrains nothing.
    assert "save_steps" not in rules.recovery(wildcards)
    assert set(rules.recovery_data(wildcards)) <= {"name", "datasets", "num_hard_negatives", "max_rows_per_dataset"}
    assert rules.throughput(wildcards) == {"seq_len": 128, "batch_size": 32}  # the demo's Table 2 cell
    assert "table2_cell" not in rules.profile(wildcards)

    models, jobs = rules.speed_models(), rules.speed_jobs(wildcards)
    assert len(models) == len(jobs) == arms * 3
    assert (models[3], jobs[3]["k"], jobs[3]["arm"]["name"]) == ("results/embed/decoder/seed_0/ft/model", 0, "decoder")
    assert (models[5], jobs[5]["k"]) == ("results/prune/decoder/seed_0/ft/drop2/dropped/model", 2)
    rows = rules.score_rows()
    assert len(rows) == seeds * arms * (5 + 2 * 2 * 5)  # unpruned rows come from the evaluate stage
    assert rows[0] == "results/evaluate/encoder/seed_0/ft/SyntheticSTS.json"
    assert "results/prune/encoder/seed_0/ft/drop1/dropped/scores/SyntheticSTS.json" in rows
    assert "results/tables/prune_tradeoff.csv" in rules.targets()


def test_scoring_only_recovered_models_on_request(demo):
    demo["prune"].update({"evaluate_dropped": False, "arms": ["encoder"]})
    rules = prune_rules(demo)
    assert rules.variants == ["recovered"] and rules.variant_pattern == "recovered"
    assert len(rules.score_rows()) == len(rules.pruned_seeds) * (5 + len(rules.ks) * 5)
    assert PruneSection.from_config(demo).variants == ("recovered",)
    assert rules.display_names(None) == {"encoder": "Sentence-ModernBERT (demo)"}


def test_the_paper_section_validates_and_passes_the_checks(repo_root):
    config = load_config(repo_root / "config" / "paper.yaml")
    rules = prune_rules(config)
    assert rules.ks == [6, 12] and sorted(rules.arms) == sorted(arm_names(config, None, every=False))
    assert rules.calibration_files(None) == []  # hub data: no local input
    assert len(rules.score_rows()) == len(rules.seeds) * len(rules.arms) * 28 * (1 + 2 * 2)  # JMTEB(v2)'s 28 tasks


def test_every_replicate_seed_is_pruned_and_timed_once(demo):
    demo["seeds"] = [0, 1]
    demo["prune"]["seeds"] = None  # the default: every replicate seed
    rules = prune_rules(demo)
    assert rules.pruned_seeds == [0, 1]
    assert len(rules.importance_jsons()) == len(rules.arms) * 2
    assert len(rules.recovered_manifests()) == len(rules.arms) * 2 * len(rules.ks)
    assert all("seed_0" in m for m in rules.speed_models())  # the architecture's speed, not the seed's


def test_prune_seeds_prunes_those_replicates_only(demo):
    demo["seeds"] = [0, 1, 2]
    demo["prune"]["seeds"] = [1]
    rules = prune_rules(demo)
    assert rules.pruned_seeds == [1]
    for files in (rules.importance_jsons(), rules.recovered_manifests(), rules.speed_models(), rules.score_rows()):
        assert files and all("seed_1" in f for f in files)
    assert len(rules.recovered_manifests()) == len(rules.arms) * len(rules.ks)
