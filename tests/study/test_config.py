"""Config validation: every shipped config is valid; every kind of mistake names its key, whether
the schema catches it (one section) or the study's checks (across sections)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import yaml
from demo_ladder import without_demo_ladder

from twinarch.core.config import ConfigError, arm_names, resolve_path, validate_config
from twinarch.embed.rules import EmbedRules
from twinarch.evaluate.rules import EvaluateRules
from twinarch.study.checks import check_study, load_config
from twinarch.study.lineage import chain, stage_jobs, start_model
from twinarch.study.rules import StudyLineage

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
        check_study(config, source="demo")
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
    msg = _error(demo_raw, lambda c: c["arms"][0].__setitem__("steps", ["stage9"]))
    assert "arms[0].steps" in msg and "stage9" in msg


def test_family_objective_mismatch_is_named(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][0].__setitem__("objective", "clm"))
    assert "arms[0].objective" in msg


def test_duplicate_arm_names_are_refused(demo_raw):
    msg = _error(demo_raw, lambda c: c["arms"][1].__setitem__("name", c["arms"][0]["name"]))
    assert "duplicate arm names" in msg


def test_pretrained_arm_needs_init_from(demo_raw):
    def mutate(c):
        c["arms"][0].update(init="pretrained", steps=[])

    assert "arms[0].init_from" in _error(demo_raw, mutate)


def test_data_root_override_moves_local_paths(repo_root):
    config = load_config(repo_root / "config" / "jmini.yaml", {"data_root": "/elsewhere"})
    assert config["data_root"] == "/elsewhere"
    assert resolve_path(config, "{data_root}/jsick/jsick.tsv") == "/elsewhere/jsick/jsick.tsv"


def test_lineage_chains_every_step_onto_the_previous_one(repo_root):
    paper = load_config(repo_root / "config" / "paper.yaml")
    assert start_model(paper, "pretrained_decoder", "embed", "base", 0) == "sbintuitions/sarashina2.2-0.5b"
    assert start_model(paper, "encoder", "embed", "base", 3) == "results/pretrain/encoder/seed_3/stage2/model"
    assert start_model(paper, "encoder", "pretrain", "stage1", 3) is None  # random weights from the model config
    assert start_model(paper, "encoder", "pretrain", "stage2", 3) == "results/pretrain/encoder/seed_3/stage1/model"
    assert start_model(paper, "encoder", "embed", "wsl", 1) == "results/embed/encoder/seed_1/base/model"
    assert start_model(paper, "encoder", "embed", "ft", 1) == "results/embed/encoder/seed_1/wsl/model"
    steps = [(s.stage, s.name) for s in chain(paper, "decoder")]
    assert steps == [
        ("pretrain", "stage1"),
        ("pretrain", "stage2"),
        ("embed", "base"),
        ("embed", "wsl"),
        ("embed", "ft"),
    ]
    assert [(s.stage, s.name) for s in chain(paper, "pretrained_decoder")][0] == ("embed", "base")


def test_a_control_without_pretraining_goes_from_its_random_init_to_embedding_training(demo_raw):
    config = copy.deepcopy(demo_raw)
    config["arms"].append({"name": "control", "display_name": "C", "family": "llama", "size": "demo-tiny", "steps": []})
    validate_config(config)
    check_study(config)
    # No pretraining job: its base model draws the random weights from the model config and the seed.
    assert start_model(config, "control", "embed", "base", 0) is None
    assert not any(arm == "control" for arm, _, _ in stage_jobs(config, "pretrain"))
    rules = EmbedRules(config, StudyLineage(config))
    wildcards = SimpleNamespace(arm="control", seed="1")
    assert rules.backbone_input(wildcards) == ["results/models/control/config.json", "results/tokenizer"]
    assert rules.random_init(wildcards) == {
        "model_config": "results/models/control/config.json",
        "tokenizer": "results/tokenizer",
        "seed": 1,
    }
    assert rules.random_init(SimpleNamespace(arm="encoder", seed="1")) is None


def test_a_stage_longer_than_the_models_positions_fails_at_parse_time(demo_raw):
    msg = _error(demo_raw, lambda c: c["models"].__setitem__("max_position_embeddings", 128))
    assert "models.max_position_embeddings" in msg and "stage2" in msg


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def ladder_demo(demo_raw):
    """The demo's encoder and decoder as a two-size ladder, and an LLM2Vec arm that follows it."""
    config = copy.deepcopy(demo_raw)
    encoder, decoder = (next(a for a in config["arms"] if a["name"] == n) for n in ("encoder", "decoder"))
    for arm in (encoder, decoder):
        arm.pop("size")
        arm["sizes"] = ["demo-tiny", "ettin-17m"]
    mntp = next(a for a in config["arms"] if a["name"] == "decoder_mntp")
    mntp.pop("size")
    config["arms"] = [a for a in config["arms"] if a["name"] != "decoder_mntp_simcse"]
    for section in ("prune", "sensitivity"):
        config[section]["arms"] = ["encoder_demo_tiny", "decoder_demo_tiny"]
    config["profile"]["baseline_arm"] = "decoder_demo_tiny"  # other sections name the expanded arms
    return config


def test_a_rung_of_the_ladder_can_set_its_own_token_budget_scale(demo_raw):
    config = ladder_demo(demo_raw)
    for arm in config["arms"]:
        if arm.get("sizes"):
            arm["sizes"] = ["demo-tiny", {"size": "ettin-17m", "token_budget_scale": 2.5}]
    arms = {a["name"]: a for a in validate_config(config)["arms"]}
    check_study(config)
    assert arms["encoder_ettin_17m"]["token_budget_scale"] == arms["decoder_ettin_17m"]["token_budget_scale"] == 2.5
    assert (
        "token_budget_scale" not in demo_raw["arms"][0]
        and arms["encoder_demo_tiny"].get("token_budget_scale", 1.0) == 1.0
    )
    # The step that extends a rung trains on that rung's scale too, times its own.
    assert arms["decoder_mntp_ettin_17m"]["token_budget_scale"] == 2.5
    config = ladder_demo(demo_raw)
    for arm in config["arms"]:
        if arm.get("sizes"):
            arm.update(sizes=["demo-tiny", {"size": "ettin-17m", "token_budget_scale": 2.5}], token_budget_scale=4.0)
    arms = {a["name"]: a for a in validate_config(config)["arms"]}
    assert (
        arms["decoder_ettin_17m"]["token_budget_scale"] == 10.0
        and arms["decoder_demo_tiny"]["token_budget_scale"] == 4.0
    )


def test_a_size_ladder_becomes_one_arm_per_size_and_extending_arms_follow_it(demo_raw):
    config = validate_config(ladder_demo(demo_raw))
    check_study(config)
    names = [a["name"] for a in config["arms"]]
    assert names[:4] == ["encoder_demo_tiny", "encoder_ettin_17m", "decoder_demo_tiny", "decoder_ettin_17m"]
    arms = {a["name"]: a for a in config["arms"]}
    assert arms["encoder_ettin_17m"]["size"] == "ettin-17m" and "sizes" not in arms["encoder_ettin_17m"]
    assert arms["decoder_ettin_17m"]["display_name"] == "Sentence-Llama-Bi (demo) (ettin-17m)"
    assert arms["decoder_mntp_ettin_17m"]["extends"] == "decoder_ettin_17m"
    assert arms["decoder_mntp_ettin_17m"]["size"] == "ettin-17m"
    # Every size of both families is pretrained, per replicate seed; the MNTP step runs on each size.
    jobs = stage_jobs(config, "pretrain")
    for arm in ("encoder_demo_tiny", "encoder_ettin_17m", "decoder_demo_tiny", "decoder_ettin_17m"):
        assert {(s, step) for a, s, step in jobs if a == arm} == {
            (seed, step) for seed in config["seeds"] for step in ("stage1", "stage2")
        }
    assert start_model(config, "decoder_mntp_ettin_17m", "llm2vec", "mntp", 0) == (
        "results/pretrain/decoder_ettin_17m/seed_0/stage2/model"
    )


def study_ladder(demo_raw, sizes):
    """A ladder study beside the demo's paper arms, in place of the demo's own one-rung ladder: both
    families over `sizes`, and a decoder -> MLM arm on each rung."""
    config = copy.deepcopy(demo_raw)
    config["arms"] = without_demo_ladder(config["arms"])
    native = {"steps": ["stage1", "stage2"], "sizes": sizes, "study": "ladder"}
    config["arms"] += [
        {"name": "enc", "display_name": "Enc", "family": "modernbert", "objective": "mlm", **native},
        {"name": "dec", "display_name": "Dec", "family": "llama", "objective": "clm", **native},
        {"name": "dec_mlm", "display_name": "Dec -> MLM", "family": "llama", "extends": "dec", "steps": ["to_mlm"],
         "study": "ladder"},
    ]  # fmt: skip
    config["ladder"] = {"cross_objective": [{"name": "to_mlm", "kind": "continue_mlm", "shards": "stage2"}]}
    return validate_config(config)


def test_a_rung_that_trains_what_a_paper_arm_trains_is_that_arm(demo_raw):
    """The demo's encoder and decoder are the demo-tiny rung: no second arm retrains them, they join
    the study, and the decoder -> MLM arm of that rung continues the paper's decoder."""
    config = study_ladder(demo_raw, ["ettin-17m", "demo-tiny"])
    check_study(config)
    names = [a["name"] for a in config["arms"]]
    assert "enc_demo_tiny" not in names and "dec_demo_tiny" not in names
    assert {"enc_ettin_17m", "dec_ettin_17m", "dec_mlm_ettin_17m", "dec_mlm_demo_tiny"} <= set(names)
    assert arm_names(config, "ladder", every=False)[:2] == ["encoder", "decoder"]
    assert arm_names(config, None, every=False)[:2] == ["encoder", "decoder"]  # still the paper's arms
    arms = {a["name"]: a for a in config["arms"]}
    assert arms["dec_mlm_demo_tiny"]["extends"] == "decoder" and arms["dec_mlm_ettin_17m"]["extends"] == "dec_ettin_17m"
    assert start_model(config, "dec_mlm_demo_tiny", "ladder", "to_mlm", 0) == (
        "results/pretrain/decoder/seed_0/stage2/model"
    )
    # Anything that changes what a rung trains (here its budget) makes it an arm of its own.
    config = study_ladder(demo_raw, ["ettin-17m", {"size": "demo-tiny", "token_budget_scale": 2.0}])
    names = [a["name"] for a in config["arms"]]
    assert "enc_demo_tiny" in names and "dec_demo_tiny" in names
    assert not any(a.get("also_in") for a in config["arms"])
    assert {a["name"]: a for a in config["arms"]}["dec_mlm_demo_tiny"]["extends"] == "dec_demo_tiny"


def test_a_study_table_pairs_each_study_arm_with_the_arms_of_its_size(demo_raw):
    config = study_ladder(demo_raw, ["ettin-17m", "demo-tiny"])
    rules = EvaluateRules(config)
    ladder = SimpleNamespace(study="ladder")
    assert rules.pairs(SimpleNamespace()) is None  # the paper's own table: every two
    pairs = rules.pairs(ladder)
    assert ["enc_ettin_17m", "dec_ettin_17m"] in pairs and ["dec_ettin_17m", "dec_mlm_ettin_17m"] in pairs
    assert ["encoder", "decoder"] in pairs  # the paper's pair, the study's demo-tiny rung
    assert ["encoder", "dec_mlm_demo_tiny"] in pairs and ["decoder", "dec_mlm_demo_tiny"] in pairs
    assert ["pretrained_decoder", "dec_mlm_demo_tiny"] in pairs  # a study arm and any arm of its size
    # Never across sizes; the paper's own pairs and its baselines are the paper's table's.
    assert ["encoder", "enc_ettin_17m"] not in pairs and ["dec_mlm_ettin_17m", "dec_mlm_demo_tiny"] not in pairs
    assert ["encoder", "pretrained_decoder"] not in pairs and not any("bm25" in pair for pair in pairs)
    assert len(rules.study_arms(ladder)) == len(set(rules.study_arms(ladder)))  # a reused arm once


def test_a_study_may_leave_its_pretrain_only_models_unscored(demo_raw):
    config = study_ladder(demo_raw, ["ettin-17m", "demo-tiny"])
    config["evaluate"]["score_pretrain_only"] = {}  # the default: every study's pretrain-only models scored
    ladder = SimpleNamespace(study="ladder")
    scored = {row.split("/")[2] for row in EvaluateRules(config).study_pretrain_only_rows(ladder)}
    assert {"encoder", "pretrained_decoder", "enc_ettin_17m", "dec_mlm_demo_tiny"} <= scored
    config["evaluate"]["score_pretrain_only"] = {"ladder": False}
    rules = EvaluateRules(config)
    scored = {row.split("/")[2] for row in rules.study_pretrain_only_rows(ladder)}
    assert scored == set(rules.core_arms)
    assert "enc_ettin_17m" in {row.split("/")[2] for row in rules.study_table1_rows(ladder)}
    # A config may drop a study's arms and keep the setting; a misspelt study is named.
    assert EvaluateRules({**config, "arms": [a for a in config["arms"] if not a.get("study")]}).core_arms
    msg = _error(demo_raw, lambda c: c["evaluate"].__setitem__("score_pretrain_only", {"ladders": False}))
    assert "evaluate.score_pretrain_only" in msg and "ladders" in msg


def test_an_arm_without_a_size_to_follow_is_named(demo_raw):
    def no_size(config):
        next(a for a in config["arms"] if a["name"] == "decoder_mntp").pop("size")

    msg = _error(demo_raw, no_size)
    assert "decoder_mntp" in msg and "no size" in msg


def reversed_keys(value):
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_the_order_of_keys_in_a_config_file_changes_no_param(demo_raw):
    """Snakemake compares params by repr, which follows a dict's key order: after validation every
    mapping is in one order, so reordering a YAML file reruns nothing (lists keep their order)."""
    original = validate_config(copy.deepcopy(demo_raw))
    reordered = validate_config(reversed_keys(copy.deepcopy(demo_raw)))
    assert repr(reordered) == repr(original)
    assert [a["name"] for a in reordered["arms"]] == [a["name"] for a in original["arms"]]
    assert [a["name"] for a in original["arms"]][:7] == [a["name"] for a in demo_raw["arms"]][:7]
