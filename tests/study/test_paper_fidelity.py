"""docs/paper-fidelity.md and config/paper.yaml say the same thing: every row of the page's tables
with a `config key` is checked against the config as the workflow loads it. And the settings reach
what runs: the contrastive stages' optimizer keys become the Trainer's arguments, and a config that
names a schedule-free optimizer without the package fails before training, naming the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from twinarch.core.config import ConfigError
from twinarch.study.checks import load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "paper-fidelity.md"
KEY_PART = re.compile(r"([A-Za-z0-9_]+)(?:\[([A-Za-z0-9_]+)\])?")


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of every Markdown table whose header has `value` and `config key` columns."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(cells) <= {"---"} and {"value", "config key"} <= set(header):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"not a `code` cell: {cell!r}"
    return match.group(1)


def lookup(config: dict[str, Any], key: str) -> Any:
    """`pretrain.stages[stage1].seq_len`: mappings by key, lists of named entries by `[name]`, of
    unnamed ones by `[index]`."""
    value: Any = config
    for part in key.split("."):
        match = KEY_PART.fullmatch(part)
        assert match, f"bad key {key!r}"
        name, entry = match.groups()
        value = value[name]
        if entry is not None:
            value = value[int(entry)] if entry.isdigit() else next(item for item in value if item["name"] == entry)
    return value


@pytest.fixture(scope="module")
def paper(repo_root):
    return load_config(repo_root / "config" / "paper.yaml")


@pytest.fixture(scope="module")
def rows():
    return table_rows(DOC.read_text(encoding="utf-8"))


def test_the_page_covers_every_section_of_the_study(rows):
    keys = [code(r["config key"]) for r in rows]
    assert len(keys) == len(set(keys)), "a config key appears twice"
    for section in ("arms", "tokenizer", "corpora", "pretrain", "embed", "evaluate", "profile", "quality", "resources"):
        assert any(k.split(".")[0].split("[")[0] == section for k in keys), section


def test_every_value_on_the_page_is_the_configs(rows, paper):
    wrong = []
    for row in rows:
        key, expected = code(row["config key"]), yaml.safe_load(code(row["value"]))
        actual = lookup(paper, key)
        if isinstance(actual, tuple):
            actual = list(actual)
        if actual != expected:
            wrong.append(f"{key}: page says {expected!r}, config has {actual!r}")
    assert not wrong, "\n".join(wrong)


def test_every_hub_dataset_of_the_config_has_its_revision_on_the_page(rows, paper):
    on_page = {code(r["config key"]) for r in rows if code(r["config key"]).endswith(".revision")}
    in_config = {f"corpora.{n}.revision" for n, c in paper["corpora"].items() if c["type"] == "hf"}
    in_config |= {
        f"embed.stages[{s['name']}].datasets.{n}.revision"
        for s in paper["embed"]["stages"]
        for n, d in s["datasets"].items()
        if d["type"] == "hf"
    }
    in_config |= {
        f"{section}.{key}.revision"
        for section, key in (("profile", "texts"), ("quality", "positive_pairs"), ("quality", "random_texts"))
        if paper[section][key].get("dataset")
    }
    assert in_config == on_page


def test_a_hub_dataset_without_a_revision_is_refused_at_paper_scale(repo_root, tmp_path):
    raw = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text(encoding="utf-8"))
    for drop in (
        lambda c: c["corpora"]["wiki40b_ja"].pop("revision"),
        lambda c: c["embed"]["stages"][1]["datasets"]["ruri_ft"].pop("revision"),
        lambda c: c["quality"]["random_texts"].pop("revision"),
    ):
        config = copy.deepcopy(raw)
        drop(config)
        path = tmp_path / "unpinned.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ConfigError, match=r"revision"):
            load_config(path)
        config["scale"] = "jmini"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        load_config(path)


def test_the_contrastive_optimizer_keys_reach_the_trainer(paper, tmp_path):
    import torch

    from twinarch.core.device import DeviceSettings
    from twinarch.embed.config import EmbedSection
    from twinarch.embed.run import training_arguments

    cpu = DeviceSettings(device="cpu", dtype=torch.float32, attn_implementation="sdpa")
    for stage in EmbedSection.from_config(paper).stages:
        args = training_arguments(stage, tmp_path / stage.name, 42, cpu, None)
        assert args.optim == "schedule_free_radam"
        assert (args.adam_beta1, args.adam_beta2, args.adam_epsilon) == (0.9, 0.98, 1e-6)
        assert args.weight_decay == 1e-5 and args.lr_scheduler_type == "constant" and args.max_grad_norm == 1.0
        assert args.per_device_train_batch_size * args.gradient_accumulation_steps in (128 * 4, 32 * 2)


def test_a_missing_schedulefree_package_fails_before_training_naming_the_key(paper, monkeypatch):
    import importlib.util

    from twinarch.embed.config import EmbedSection

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "schedulefree" else real(name, *a)
    )
    stage = EmbedSection.from_config(paper).stage("wsl")
    with pytest.raises(ConfigError, match=r"optimizer.*schedule_free_radam.*schedulefree"):
        stage.optimizer_config.check_installed()


def test_schedule_free_weights_are_the_averaged_ones_when_saved():
    import torch
    from schedulefree import RAdamScheduleFree

    from twinarch.embed.run import use_evaluation_weights

    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 1)
    optimizer = RAdamScheduleFree(layer.parameters(), lr=0.1)
    optimizer.train()
    for _ in range(10):  # RAdam's first steps are not rectified and move nothing
        layer(torch.randn(8, 4)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    training_weights = layer.weight.detach().clone()
    use_evaluation_weights(optimizer)
    assert not optimizer.param_groups[0]["train_mode"]
    assert not torch.equal(layer.weight, training_weights)
    use_evaluation_weights(torch.optim.AdamW(layer.parameters()))  # no such mode: nothing to do
