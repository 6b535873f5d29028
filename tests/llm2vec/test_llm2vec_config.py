"""The `llm2vec` section: its schema fills LLM2Vec's defaults per kind of step, the rules give each
(arm, step) job its inputs and params, and cross-section mistakes fail naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from twinarch.core.config import ConfigError, load_config
from twinarch.llm2vec.config import (
    LLAMA_PROJECTIONS,
    MntpStep,
    SimcseStep,
    check_llm2vec_section,
    operational_settings,
    read_step,
    step_names,
)
from twinarch.llm2vec.rules import NO_STEP, Llm2vecRules

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "llm2vec.schema.yaml"
SECTION = {
    "steps": [
        {"name": "mntp", "kind": "mntp", "shards": "stage2", "seq_len": 128, "max_steps": 20},
        {"name": "simcse", "kind": "simcse", "corpora": ["demo_text"], "lora": {"r": 8, "alpha": 16}},
    ]
}


def validated(section: dict, tmp_path: Path) -> dict:
    """The section after Snakemake's validation against its schema (defaults filled)."""
    from snakemake.utils import validate

    wrapper = tmp_path / "wrapper.schema.yaml"
    wrapper.write_text(
        yaml.safe_dump(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"llm2vec": {"$ref": f"{SCHEMA.as_uri()}#/$defs/llm2vec"}},
            }
        ),
        encoding="utf-8",
    )
    data = {"llm2vec": copy.deepcopy(section)}
    validate(data, str(wrapper))
    return data["llm2vec"]


class Lineage:
    """The arm's chain [stage1, stage2, mntp, simcse] as twinarch.study.lineage resolves it."""

    chain = [("pretrain", "stage1"), ("pretrain", "stage2"), ("llm2vec", "mntp"), ("llm2vec", "simcse")]

    def start_model(self, arm: str, stage: str, name: str, seed: int | str) -> str | None:
        index = self.chain.index((stage, name))
        before = self.chain[index - 1]
        return f"results/{before[0]}/{arm}/seed_{seed}/{before[1]}/model"

    def jobs(self, stage: str) -> list[tuple[str, int, str]]:
        return [("decoder", 0, name) for s, name in self.chain if s == stage]


@pytest.fixture()
def config(repo_root, shared_data, tmp_path) -> dict:
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": str(shared_data)})
    config["llm2vec"] = validated(SECTION, tmp_path)
    config["arms"][1]["steps"] = ["stage1", "stage2", "mntp", "simcse"]
    return config


class Wildcards:
    def __init__(self, **kw: str) -> None:
        self.__dict__.update(kw)


def test_the_schema_fills_each_kind_with_its_own_llm2vec_defaults(config):
    mntp, simcse = (read_step(raw) for raw in config["llm2vec"]["steps"])
    assert isinstance(mntp, MntpStep) and isinstance(simcse, SimcseStep)
    assert (mntp.mlm_probability, mntp.mask_replace_prob, mntp.random_replace_prob) == (0.2, 0.8, 0.1)
    assert (mntp.mask_token, mntp.learning_rate, mntp.lora, mntp.seq_len) == ("blank", 5e-5, None, 128)
    assert (simcse.attention_dropout, simcse.temperature, simcse.per_device_batch_size) == (0.3, 0.05, 128)
    assert simcse.embed_stage().loss_scale == pytest.approx(20.0) and simcse.max_seq_length == 128
    assert simcse.lora.r == 8 and simcse.lora.target_modules == LLAMA_PROJECTIONS
    # no default of one kind leaks into the other kind's entry
    assert "attention_dropout" not in config["llm2vec"]["steps"][0]
    assert "mask_token" not in config["llm2vec"]["steps"][1]
    assert step_names(config) == ["mntp", "simcse"]


def test_unknown_keys_and_kinds_are_refused(tmp_path):
    from snakemake.exceptions import WorkflowError

    for bad in (
        {"steps": [{"name": "mntp", "kind": "mntp", "shards": "s", "attention_dropout": 0.1}]},
        {"steps": [{"name": "x", "kind": "echo"}]},
        {"steps": [{"name": "simcse", "kind": "simcse"}]},
    ):
        with pytest.raises(WorkflowError):
            validated(bad, tmp_path)


def test_rules_give_each_step_its_inputs_params_and_paths(config):
    rules = Llm2vecRules(config, Lineage())
    mntp = Wildcards(arm="decoder", seed="1", step="mntp")
    simcse = Wildcards(arm="decoder", seed="0", step="simcse")
    assert rules.mntp_inputs(mntp) == {
        "shards": "results/shards/stage2/manifest.json",
        "init_model": "results/pretrain/decoder/seed_1/stage2/model",
    }
    assert rules.start_model(simcse) == "results/llm2vec/decoder/seed_0/mntp/model"
    assert rules.simcse_inputs(simcse)["corpora"] == ["results/data/synthetic/synthetic_pretrain.jsonl"]
    assert rules.corpora(simcse)["demo_text"]["type"] == "synthetic"
    run = rules.run(mntp)
    assert run["arm"] == {"name": "decoder", "family": "llama"} and run["seed"] == 1  # the replicate seed
    assert "checkpoint_every_steps" not in run["step"] and run["step"]["max_steps"] == 20
    assert set(rules.run(simcse)["arm"]) == {"name", "family", "bidirectional", "pooling"}
    assert operational_settings(config, "simcse")["save_steps"] == 200
    assert rules.work_dir(mntp) == "work/llm2vec/decoder/seed_1/mntp"
    assert rules.output("model") == "results/llm2vec/{arm}/seed_{seed}/{step}/model"
    assert rules.outputs("manifest.json", "simcse") == ["results/llm2vec/decoder/seed_0/simcse/manifest.json"]
    assert rules.step_pattern("mntp") == "mntp"
    config["llm2vec"]["steps"].pop()
    assert Llm2vecRules(config, Lineage()).step_pattern("simcse") == NO_STEP


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["llm2vec"]["steps"][0].update(shards="stage9"), r"steps\[0\].shards'.*no pretraining stage"),
        (lambda c: c["llm2vec"]["steps"][0].update(seq_len=512), r"steps\[0\].seq_len'.*longer than the blocks"),
        (lambda c: c["llm2vec"]["steps"][1].update(corpora=["nope"]), r"steps\[1\].corpora'.*unknown corpora"),
        (lambda c: c["llm2vec"]["steps"][1].update(name="mntp"), "duplicate step names"),
        (lambda c: c["llm2vec"]["steps"][1].update(name="stage1"), "also pretraining stage names"),
        (lambda c: c["arms"][0].update(steps=["stage1", "mntp"]), r"arms\[0\].steps'.*family 'modernbert'"),
        (lambda c: c["arms"][1].update(bidirectional=False), r"arms\[1\].steps'.*bidirectional False"),
    ],
)
def test_cross_section_mistakes_name_the_key(config, change, message):
    check_llm2vec_section(config)
    change(config)
    with pytest.raises(ConfigError, match=message):
        check_llm2vec_section(config)
