"""The `ladder` section: its schema fills Ettin's cross-train defaults, a step's run settings are a
pretraining spec of the other objective with the warmup-stable-decay schedule and only what shapes
the run, the rules give each job its inputs and the report its arms, and mistakes across sections
fail naming the key."""

from __future__ import annotations

import copy

import pytest
from demo_ladder import without_demo_ladder
from ladder_setup import validated_ladder

from twinarch.core.config import ConfigError, load_config
from twinarch.ladder.config import (
    CrossObjectiveStep,
    check_ladder_section,
    operational_settings,
    role,
    run_settings,
    step_names,
)
from twinarch.ladder.rules import NO_STEP, LadderRules

SECTION = {
    "cross_objective": [
        {"name": "continue_mlm", "kind": "continue_mlm", "shards": "stage2", "token_budget": 8192},
        {
            "name": "continue_clm",
            "kind": "continue_clm",
            "shards": "stage2",
            "by_size": {"demo-tiny": {"learning_rate": 4e-4, "weight_decay": 1e-5}},
        },
    ]
}
LADDER_ARMS = [
    {"name": "enc", "display_name": "Enc", "family": "modernbert", "size": "demo-tiny", "steps": ["stage1", "stage2"]},
    {"name": "dec", "display_name": "Dec", "family": "llama", "size": "demo-tiny", "steps": ["stage1", "stage2"]},
    {
        "name": "dec_mlm",
        "display_name": "Dec→MLM",
        "family": "llama",
        "size": "demo-tiny",
        "extends": "dec",
        "steps": ["continue_mlm"],
    },
    {
        "name": "enc_clm",
        "display_name": "Enc→CLM",
        "family": "modernbert",
        "size": "demo-tiny",
        "extends": "enc",
        "steps": ["continue_clm"],
    },
    {"name": "enc_big", "display_name": "Enc big", "family": "modernbert", "size": "jmini-small", "steps": ["stage1"]},
]


class Lineage:
    """An arm's chain as twinarch.study.lineage resolves it, for the steps these tests ask."""

    def start_model(self, arm: str, stage: str, name: str, seed: int | str) -> str | None:
        parent = {"dec_mlm": "dec", "enc_clm": "enc"}
        if stage == "ladder":
            return f"results/pretrain/{parent[arm]}/seed_{seed}/stage2/model"
        if arm in parent:
            return f"results/ladder/{arm}/seed_{seed}/continue_{'mlm' if arm == 'dec_mlm' else 'clm'}/model"
        return f"results/pretrain/{arm}/seed_{seed}/stage2/model"

    def model_dir(self, arm: str, stage: str, name: str, seed: int | str) -> str:
        return f"results/{stage}/{arm}/seed_{seed}/{name}/model"

    def jobs(self, stage: str) -> list[tuple[str, int, str]]:
        return [("dec_mlm", 0, "continue_mlm"), ("enc_clm", 0, "continue_clm")] if stage == "ladder" else []


class Wildcards:
    def __init__(self, **kw: str) -> None:
        self.__dict__.update(kw)


@pytest.fixture()
def config(repo_root, shared_data, tmp_path) -> dict:
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": str(shared_data)})
    config["ladder"] = validated_ladder(SECTION, tmp_path)
    config["arms"] = without_demo_ladder(config["arms"])
    config["arms"] += [{**copy.deepcopy(arm), "study": "ladder"} for arm in LADDER_ARMS]
    return config


def test_the_schema_fills_ettins_cross_train_defaults(config):
    step = CrossObjectiveStep.from_dict(config["ladder"]["cross_objective"][0])
    assert (step.warmup_ratio, step.decay_ratio, step.min_lr_ratio, step.mlm_probability) == (0.06, 0.2, 0.02, 0.15)
    assert step.learning_rate == 1.5e-3 and step.weight_decay is None and step.loop_epochs
    assert config["ladder"]["losses"] == {"shards": None, "mlm_probability": 0.15, "max_blocks": 256, "batch_size": 16}
    assert step_names(config) == ["continue_mlm", "continue_clm"]


def test_run_settings_are_a_pretraining_spec_of_the_other_objective(config):
    spec = run_settings(config, "dec_mlm", "continue_mlm", 1)
    stage2 = config["pretrain"]["stages"][1]
    assert spec["objective"] == "mlm" and spec["seed"] == 1
    assert spec["arm"] == {"name": "dec_mlm", "family": "llama", "token_budget_scale": 1.0}
    assert spec["stage"]["corpora"] == stage2["corpora"] and spec["stage"]["seq_len"] == stage2["seq_len"]
    assert spec["stage"]["token_budget"] == 8192 and spec["stage"]["learning_rate"] == 1.5e-3
    optimizer = spec["pretrain"]["optimizer"]
    assert optimizer["lr_scheduler"] == "warmup_stable_decay" and optimizer["warmup_ratio"] == 0.06
    assert optimizer["weight_decay"] == config["pretrain"]["optimizer"]["weight_decay"]
    assert spec["pretrain"]["mlm_probability"] == 0.15 and spec["pretrain"]["mask_replace_prob"] == 0.8
    assert spec["lr_scheduler_kwargs"] == {
        "decay_ratio": 0.2,
        "min_lr_ratio": 0.02,
        "warmup_type": "linear",
        "decay_type": "linear",
    }
    assert "checkpoint_every_steps" not in spec["stage"] and "log_every_steps" not in spec["stage"]

    clm = run_settings(config, "enc_clm", "continue_clm", 1)
    assert clm["objective"] == "clm" and "mlm_probability" not in clm["pretrain"]
    assert clm["stage"]["learning_rate"] == 4e-4 and clm["pretrain"]["optimizer"]["weight_decay"] == 1e-5

    # Intervals reach the job at run time: editing them changes no param.
    edited = copy.deepcopy(config)
    edited["ladder"]["cross_objective"][0].update(checkpoint_every_steps=7, log_every_steps=3)
    assert run_settings(edited, "dec_mlm", "continue_mlm", 1) == spec
    assert operational_settings(edited, "continue_mlm")["stage"] == {"checkpoint_every_steps": 7, "log_every_steps": 3}


def test_the_rules_give_each_job_its_inputs_and_the_report_its_arms(config):
    rules = LadderRules(config, Lineage())
    wildcards = Wildcards(arm="dec_mlm", seed="0", step="continue_mlm")
    assert rules.inputs(wildcards) == {
        "shards": "results/shards/stage2/manifest.json",
        "validation": "results/shards/stage2/validation.npy",
        "tokenizer": "results/tokenizer",
        "model_config": "results/models/dec_mlm/config.json",
        "init_model": "results/pretrain/dec/seed_0/stage2/model",
    }
    assert rules.work_dir(wildcards) == "work/ladder/dec_mlm/seed_0/continue_mlm"
    assert rules.outputs("manifest.json") == [
        "results/ladder/dec_mlm/seed_0/continue_mlm/manifest.json",
        "results/ladder/enc_clm/seed_0/continue_clm/manifest.json",
    ]
    assert rules.run(wildcards) == run_settings(config, "dec_mlm", "continue_mlm", 0)

    # Losses: the model embedding training starts from, on the last pretraining stage's blocks.
    assert rules.loss_model(wildcards) == "results/ladder/dec_mlm/seed_0/continue_mlm/model"
    assert rules.loss_inputs(Wildcards(arm="enc", seed="1"))["model"] == "results/pretrain/enc/seed_1/stage2/model"
    assert rules.loss_settings(wildcards)["shards"] == "stage2"
    # Only the size with cross-objective models gets losses and a cross-objective table.
    assert rules.sizes == ["demo-tiny"] and "enc_big" not in rules.loss_arms
    assert len(rules.loss_files()) == 4 * len(config["seeds"])
    assert rules.cross_prefixes(wildcards) == {"demo-tiny": "results/tables/ladder_cross_objective_demo-tiny"}
    assert {a["name"]: a["role"] for a in rules.report_arms(wildcards)} == {
        "enc": "encoder",
        "dec": "decoder",
        "dec_mlm": "decoder_mlm",
        "enc_clm": "encoder_clm",
        "enc_big": "encoder",
    }
    assert rules.stats() == "results/tables/table1_ladder_stats.json"
    assert "results/tables/ladder_cross_objective_demo-tiny.tex" in rules.tables()

    plain = copy.deepcopy(config)
    plain["ladder"] = {"cross_objective": []}
    assert LadderRules(plain, Lineage()).step_pattern == NO_STEP


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["arms"][-3].update(family="modernbert"), "continues a llama model"),
        (lambda c: c["arms"][-3].update(bidirectional=False), "arms\\[\\d+\\].bidirectional"),
        (lambda c: c["ladder"]["cross_objective"][0].update(shards="nope"), "cross_objective\\[0\\].shards"),
        (lambda c: c["ladder"]["cross_objective"][1].update(name="continue_mlm"), "duplicate step names"),
        (lambda c: c["ladder"]["cross_objective"][1].update(name="stage1"), "also pretraining stage"),
        (lambda c: c["ladder"]["losses"].update(shards="nope"), "ladder.losses.shards"),
    ],
)
def test_mistakes_across_sections_fail_naming_the_key(config, change, message):
    check_ladder_section(config)
    assert role(config, "enc_clm") == "encoder_clm"
    bad = copy.deepcopy(config)
    change(bad)
    with pytest.raises(ConfigError, match=message):
        check_ladder_section(bad)
