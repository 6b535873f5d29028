"""Per-rule resources from the config: overlay, normalisation, slurm_extra validation, the schema."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from twinarch.core.config import ConfigError, deep_update
from twinarch.core.resources import GROUPS, num_nodes, processes_per_node, rule_resources, validate_slurm_extra

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "resources.schema.yaml").read_text())
CONFIGS = ["config/config.yaml", "config/jmini.yaml", "config/paper.yaml"]


def resources_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**SCHEMA, "$ref": "#/$defs/resources"})


def raw_config(path: str) -> dict:
    return yaml.safe_load((REPO / path).read_text())


def test_group_overlays_default_and_missing_group_gets_default() -> None:
    config = {"resources": {"default": {"mem_mb": 1000, "runtime": 10}, "pretrain": {"mem_mb": 8000}}}
    assert rule_resources(config, "pretrain") == {"mem_mb": 8000, "runtime": 10}
    assert rule_resources(config, "figures") == {"mem_mb": 1000, "runtime": 10}
    assert rule_resources({}, "data") == {}


def test_unknown_group_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown resource group 'pretrian'"):
        rule_resources({}, "pretrian")


def test_slurm_extra_options_accumulate() -> None:
    config = {"resources": {"default": {"slurm_extra": "--signal=TERM@600"}, "profile": {"slurm_extra": "--exclusive"}}}
    assert rule_resources(config, "profile")["slurm_extra"] == "--signal=TERM@600 --exclusive"
    assert rule_resources(config, "data")["slurm_extra"] == "--signal=TERM@600"


def test_gpu_jobs_ask_per_gpu_and_cpu_jobs_per_task() -> None:
    config = {
        "resources": {
            "default": {"cpus_per_task": 2, "gpu_model": "h100"},
            "pretrain": {"gpu": 8, "cpus_per_gpu": 8},
            "data": {"cpus_per_gpu": 4},
        }
    }
    gpu_job = rule_resources(config, "pretrain")
    assert gpu_job == {"gpu": 8, "gpu_model": "h100", "cpus_per_gpu": 8}
    cpu_job = rule_resources(config, "data")
    assert cpu_job == {"cpus_per_task": 2}, "a CPU job must not ask for a GPU model or CPUs per GPU"


def test_paper_config_merged_over_the_demo_keeps_per_gpu_cpus() -> None:
    """`--configfile config/paper.yaml` is merged over the Snakefile's demo config: the demo's
    cpus_per_task must not leak into the paper's GPU jobs (the plugin would prefer it)."""
    merged = deep_update(raw_config("config/config.yaml"), raw_config("config/paper.yaml"))
    for group in ("pretrain", "embed", "evaluate"):
        resources = rule_resources(merged, group)
        assert "cpus_per_task" not in resources
        assert resources == rule_resources(raw_config("config/paper.yaml"), group)


@pytest.mark.parametrize(
    "extra",
    [
        "--gres=gpu:1",
        "--gpus=2",
        "--gpus 2",
        "--time=10",
        "-t 10",
        "--mem=1G",
        "--mem 1000",
        "--partition=gpu",
        "-p gpu",
        "--nodes=2",
        "-N 2",
        "--ntasks=4",
        "-n 4",
        "--cpus-per-task=2",
        "--cpus-per-gpu=8",
        "--account=x",
        "--signal=TERM@600 --time=60",
    ],
)
def test_slurm_extra_refuses_options_the_plugin_sets(extra: str) -> None:
    with pytest.raises(ConfigError, match="resources.pretrain.slurm_extra"):
        rule_resources({"resources": {"pretrain": {"slurm_extra": extra}}}, "pretrain")
    assert list(resources_validator().iter_errors({"pretrain": {"slurm_extra": extra}})), extra


@pytest.mark.parametrize(
    "extra",
    ["--signal=TERM@600", "--signal=B:USR1@300", "--exclusive", "--gpus-per-node=8", "--mail-type=FAIL", "--requeue"],
)
def test_slurm_extra_accepts_other_options(extra: str) -> None:
    validate_slurm_extra(extra)
    assert not list(resources_validator().iter_errors({"pretrain": {"slurm_extra": extra}}))


def plugin_forbidden_samples() -> list[str]:
    """One sample of every option the installed plugin refuses, from its own pattern table."""
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    samples = []
    for pattern in get_forbidden_slurm_options():
        for alternative in pattern.split("|"):
            flag = re.sub(r"\[=\\s\]|\\s\??$", "", alternative)
            samples.append(f"{flag}=1" if flag.startswith("--") else f"{flag} 1")
    return samples


@pytest.mark.parametrize("sample", plugin_forbidden_samples())
def test_every_option_the_installed_plugin_refuses_is_refused_at_parse_time(sample: str) -> None:
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    assert any(re.search(p, sample) for p in get_forbidden_slurm_options()), f"bad sample {sample}"
    with pytest.raises(ConfigError):
        validate_slurm_extra(sample)
    assert list(resources_validator().iter_errors({"data": {"slurm_extra": sample}})), sample


def test_uneven_gpus_over_nodes_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="do not split evenly over 2 nodes"):
        rule_resources({"resources": {"pretrain": {"gpu": 3, "nodes": 2}}}, "pretrain")


@pytest.mark.parametrize("path", CONFIGS)
def test_every_config_resources_section_is_valid(path: str) -> None:
    section = raw_config(path)["resources"]
    errors = [e.message for e in resources_validator().iter_errors(section)]
    assert not errors
    for group in GROUPS:
        resources = rule_resources(raw_config(path), group)
        assert resources["mem_mb"] > 0 and resources["runtime"] > 0, (path, group)
        assert "--signal=TERM@" in resources["slurm_extra"], "every job gets the pre-timeout warning"


def test_schema_rejects_unknown_groups_and_keys() -> None:
    validator = resources_validator()
    assert list(validator.iter_errors({"pretrian": {}}))
    assert list(validator.iter_errors({"pretrain": {"gpus": 8}}))
    assert list(validator.iter_errors({"pretrain": {"gpu": -1}}))
    assert list(validator.iter_errors({"pretrain": {"gpu_model": "'a100'"}}))


def test_paper_config_sizes_each_stage() -> None:
    """Table 3: 8 GPUs on one node for pretraining and contrastive training; one GPU for scoring
    and profiling; data and tokenizer on CPUs only, with many cores."""
    paper = raw_config("config/paper.yaml")
    for group in ("pretrain", "embed"):
        resources = rule_resources(paper, group)
        assert (resources["gpu"], resources["nodes"]) == (8, 1)
        assert processes_per_node(resources) == 8
    for group in ("evaluate", "profile", "quality"):
        assert rule_resources(paper, group)["gpu"] == 1
    for group in ("data", "tokenizer"):
        resources = rule_resources(paper, group)
        assert "gpu" not in resources and resources["cpus_per_task"] >= 16
    demo = raw_config("config/config.yaml")
    assert not any(rule_resources(demo, g).get("gpu") for g in GROUPS), "the demo runs on CPUs"


def test_processes_per_node_accepts_snakemake_resources() -> None:
    """Scripts see `snakemake.resources` as a ResourceList (a Namedlist), not a dict."""
    from snakemake.iocontainers import ResourceList

    assert processes_per_node(ResourceList(fromdict={"gpu": 8, "nodes": 1, "_cores": 1})) == 8
    assert processes_per_node(ResourceList(fromdict={"gpu": 16, "nodes": 2})) == 8
    assert num_nodes(ResourceList(fromdict={"gpu": 16, "nodes": 2})) == 2
    assert processes_per_node(ResourceList(fromdict={"mem_mb": 100})) == 1
    assert processes_per_node({"gpu": 0}) == 1
    assert processes_per_node({"gpu": 1}) == 1
