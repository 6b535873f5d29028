"""The `sensitivity` section (schema defaults, checks naming the key) and the rules' paths and params."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.utils import validate

from twinarch.core.config import ConfigError, load_config
from twinarch.sensitivity.config import SensitivitySettings, check_sensitivity_section
from twinarch.sensitivity.rules import SensitivityRules

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "sensitivity.schema.yaml"


def validated(section: dict, tmp_path: Path) -> dict:
    """The section as Snakemake's validator leaves it (defaults filled), via a one-key wrapper schema."""
    wrapper = tmp_path / "wrapper.schema.yaml"
    ref = f"{SCHEMA.as_uri()}#/$defs/sensitivity"
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
    wrapper.write_text(yaml.safe_dump({**schema, "properties": {"sensitivity": {"$ref": ref}}}))
    config = {"sensitivity": copy.deepcopy(section)}
    validate(config, str(wrapper))
    return config["sensitivity"]


def test_the_schema_fills_every_default_and_refuses_unknown_keys(tmp_path):
    section = validated({"documents": {"path": "docs.jsonl"}}, tmp_path)
    assert section["lengths"] == [16, 32, 64, 128, 256, 512]
    assert section["estages"] == ["base", "ft"] and section["num_documents"] == 20
    assert section["occlusion_token"] == "unk_token" and section["n_steps"] == 16
    settings = SensitivitySettings.from_section(section, data_root="unused")
    assert settings.documents.path == "docs.jsonl" and settings.max_occluded_positions == 64
    with pytest.raises(Exception, match="'steps' was unexpected"):
        validated({"documents": {"path": "docs.jsonl"}, "steps": 8}, tmp_path)


@pytest.fixture(scope="module")
def demo_config(repo_root: Path, shared_data: Path) -> dict:
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": str(shared_data)})
    config["sensitivity"] = {
        "estages": ["ft", "base"],
        "documents": {"path": "{data_root}/livedoor/livedoor_news.jsonl", "text_field": "body", "max_rows": 50},
        "num_documents": 20,
        "lengths": [16, 32, 64],
        "occlusion_token": "unk_token",
        "n_steps": 16,
        "batch_size": 16,
        "max_occluded_positions": 64,
    }
    return config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"estages": ["base", "mntp"]}, r"sensitivity\.estages.*unknown embedding stage 'mntp'"),
        ({"lengths": [8, 32]}, r"sensitivity\.lengths.*\[8\] do not exceed the 8 head tokens"),
        ({"lengths": [16, 100_000]}, r"sensitivity\.lengths.*100000 exceeds models\.max_position_embeddings"),
        ({"num_documents": 60}, r"sensitivity\.documents\.max_rows.*50 rows cannot give"),
        ({"max_occluded_positions": 8}, r"sensitivity\.max_occluded_positions"),
        ({"seeds": [3]}, r"sensitivity\.seeds.*\[3\] are not in config\.seeds"),
    ],
)
def test_bad_settings_name_their_config_key(demo_config, change, message):
    config = copy.deepcopy(demo_config)
    config["sensitivity"].update(change)
    with pytest.raises(ConfigError, match=message):
        check_sensitivity_section(config)


def test_rules_list_every_job_in_training_order_and_resolve_model_paths(demo_config, shared_data):
    check_sensitivity_section(demo_config)
    rules = SensitivityRules(demo_config)
    arms = [a["name"] for a in demo_config["arms"]]
    assert rules.estages == ["base", "ft"]  # training order, not the section's
    first = demo_config["seeds"][0]  # by default the first replicate seed's models are measured
    assert rules.outputs("positions") == [
        f"results/sensitivity/{arm}/seed_{first}/{estage}/positions.parquet"
        for arm in arms
        for estage in ("base", "ft")
    ]
    assert rules.output("manifest") == "results/sensitivity/{arm}/seed_{seed}/{estage}/manifest.json"
    job = SimpleNamespace(arm=arms[0], seed=first, estage="ft")
    assert rules.model(job) == f"results/embed/{arms[0]}/seed_{first}/ft/model"
    assert set(rules.arm(job)) <= {"family", "bidirectional"} and "family" in rules.arm(job)
    assert rules.text_files(job) == [str(shared_data / "livedoor" / "livedoor_news.jsonl")]
    assert rules.stages(job) == ["base", "ft"]
    # The job's param leaves out the stage list (adding a stage re-runs no job) and reads as settings.
    assert "estages" not in rules.section(job) and "seeds" not in rules.section(job)
    assert SensitivitySettings.from_section(rules.section(job), str(shared_data)).num_documents == 20
    assert list(rules.display_names(job)) == arms
