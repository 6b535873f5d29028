"""Config validation: every shipped config is valid; every kind of mistake names its key."""

from __future__ import annotations

import copy

import pytest
import yaml

from twinarch.config import ConfigError, base_model_source, get_arm, load_config, resolve_path, validate_config

CONFIGS = ["config/config.yaml", "config/jmini.yaml", "config/paper.yaml"]


@pytest.fixture(scope="module")
def demo_raw(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", CONFIGS)
def test_shipped_configs_are_valid_and_get_defaults(repo_root, path):
    config = load_config(repo_root / path)
    assert config["seed"] >= 0
    assert config["device"]["dtype"] == "auto"  # a default filled in from the schema
    for arm in config["arms"]:
        assert arm["pooling"] in {"mean", "lasttoken", "weightedmean", "cls"}


def _error(raw, mutate) -> str:
    config = copy.deepcopy(raw)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config, source="demo")
    return str(info.value)


def test_unknown_key_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][0].__setitem__("poolng", "mean"))
    assert "arms[0]" in msg and "poolng" in msg


def test_unknown_top_level_key_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c.__setitem__("pretrian", {}))
    assert "pretrian" in msg


def test_wrong_type_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c.__setitem__("seed", "zero"))
    assert "config key 'seed'" in msg and "integer" in msg


def test_missing_required_value_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][1].pop("family"))
    assert "arms[1]" in msg and "family" in msg


def test_arm_referencing_unknown_stage_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][0].__setitem__("pretrain_stages", ["stage9"]))
    assert "arms[0].pretrain_stages" in msg and "stage9" in msg


def test_family_objective_mismatch_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][0].__setitem__("objective", "clm"))
    assert "arms[0].objective" in msg


def test_duplicate_arm_names_are_refused(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][1].__setitem__("name", c["arms"][0]["name"]))
    assert "duplicate arm names" in msg


def test_pretrained_arm_needs_init_from(demo_raw):
    def mutate(c):
        c["arms"][0].update(init="pretrained", pretrain_stages=[])

    assert "arms[0].init_from" in _error(demo_raw, mutate)


def test_data_root_override_moves_local_paths(repo_root):
    config = load_config(repo_root / "config" / "jmini.yaml", {"data_root": "/elsewhere"})
    assert config["data_root"] == "/elsewhere"
    assert resolve_path(config, "{data_root}/jsick/jsick.tsv") == "/elsewhere/jsick/jsick.tsv"


def test_base_model_source_follows_lineage(repo_root):
    paper = load_config(repo_root / "config" / "paper.yaml")
    assert base_model_source(paper, "pretrained_decoder") == "sbintuitions/sarashina2.2-0.5b"
    last = get_arm(paper, "encoder").final_pretrain_stage
    assert base_model_source(paper, "encoder") == f"results/pretrain/encoder/{last}/model"


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
