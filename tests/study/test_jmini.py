"""jmini on the real miniature data: no evaluation text is ever trained on, and the whole workflow
runs end to end on reduced caps (so a change that breaks a real-data path cannot land)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from twinarch.core.config import load_config
from twinarch.core.containment import ContainmentIndex, TextExclusion
from twinarch.core.io import DataError
from twinarch.data.sources import build_source
from twinarch.study.artifacts import selected
from twinarch.study.overlap import contrastive_texts, evaluation_texts, find_overlaps, pretraining_texts


def test_containment_finds_equal_and_contained_texts_only():
    index = ContainmentIndex([("eval", "男性がスケートボードをしています。"), ("eval2", "犬が走る。猫が寝る。")])
    assert index.found_in("男性がスケートボードをしています。") == [("eval", "男性がスケートボードをしています")]
    assert index.found_in("今日は晴れ。男性がスケートボードをしています。明日は雨。")
    assert index.found_in("前置き\n犬が走る。\n猫が寝る。後書き")
    assert not index.found_in("犬が走る。鳥が飛ぶ。")  # one sentence of two is no containment
    assert not index.found_in("若い男性がスケートボードをしています。")  # a longer sentence is another text
    found = find_overlaps(
        [("train", "犬が走る。猫が寝る。それだけ。")], [("task / text", "猫が寝る。"), ("task / text", "鳥")]
    )
    assert [(o.evaluation, o.training) for o in found] == [("task / text", "train")]


def test_a_corpus_drops_documents_holding_an_excluded_text(tmp_path):
    evaluation = tmp_path / "eval.jsonl"
    evaluation.write_text(
        "\n".join(json.dumps({"id": i, "s": s}, ensure_ascii=False) for i, s in enumerate(["評価の文です。", ""])),
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps({"text": t}, ensure_ascii=False) for t in ["前の文。評価の文です。後の文。", "無関係な文。"]
        ),
        encoding="utf-8",
    )
    source = build_source(
        "c", {"type": "local", "path": str(corpus), "exclude": [{"path": str(evaluation), "fields": ["s"]}]}
    )
    assert [d.text for d in source.documents()] == ["無関係な文。"]
    assert str(evaluation) in source.input_files()

    bad = TextExclusion(str(evaluation), ("missing",))
    with pytest.raises(DataError, match=r"eval.jsonl:1: no field 'missing' to exclude \(corpus 'c'\).*fields found"):
        list(bad.texts("corpus 'c'"))
    with pytest.raises(DataError, match="exclude file not found"):
        list(TextExclusion(str(tmp_path / "nope.jsonl"), ("s",)).texts("corpus 'c'"))


def test_no_jmini_evaluation_text_is_trained_on(repo_root, shared_data):
    """Every text of every jmini evaluation task, as mteb receives it, against every pretraining
    document and every contrastive row: none is equal to or inside a training text."""
    config = load_config(repo_root / "config" / "jmini.yaml", {"data_root": str(shared_data)})
    training = [*pretraining_texts(config), *contrastive_texts(config)]
    evaluation = list(evaluation_texts(config))
    assert len(training) > 10_000 and len(evaluation) > 10_000
    overlaps = find_overlaps(training, evaluation)
    assert not overlaps, [(o.evaluation, o.training, o.text[:60]) for o in overlaps[:10]]


def reduced_jmini(repo_root: Path, shared_data: Path, path: Path) -> Path:
    """jmini with every data cap cut down (a config override, as a user would write one): the same
    real files, rules and code paths, minutes instead of an hour. One arm: the real-data paths do
    not depend on the arm, and the demo's end-to-end test runs every arm."""
    config = yaml.safe_load((repo_root / "config" / "jmini.yaml").read_text(encoding="utf-8"))
    config["data_root"] = str(shared_data)
    config["arms"] = [a for a in config["arms"] if a["name"] == config["profile"]["baseline_arm"]]
    for section in ("prune", "sensitivity"):  # the extension studies name the arms left out
        config.pop(section)
    config["seeds"] = [0]
    for name, cap in {"aozora": 10, "livedoor": 150, "jaquad_train": 300, "wikinews": 150}.items():
        config["corpora"][name]["max_documents"] = cap
    config["tokenizer"].update(vocab_size=3000, max_chars=400_000)
    config["shards"]["validation_fraction"] = 0.05  # a full 512-token validation block from fewer documents
    for stage, budget in zip(config["pretrain"]["stages"], (8 * 128 * 4, 4 * 512 * 2)):
        stage.update(token_budget=budget, eval_every_steps=2, checkpoint_every_steps=4, log_every_steps=2)
    for stage in config["embed"]["stages"]:
        stage.update(max_rows_per_dataset=64, per_device_batch_size=16, mini_batch_size=16, max_seq_length=64)
    config["evaluate"]["max_seq_length"] = 64
    for task in config["evaluate"]["tasks"]:
        task["max_items"] = 60
        if task["type"] == "retrieval":
            task["max_documents"] = 120
    config["profile"].update(
        seq_lens=[64], batch_sizes=[4, 8], timed_iters=1, table2_cell={"seq_len": 64, "batch_size": 8}
    )
    config["quality"].update(estages=["base", "ft"], max_seq_length=64)
    config["quality"]["positive_pairs"]["max_rows"] = 60
    config["quality"]["random_texts"]["max_rows"] = 60
    for group in config["resources"].values():
        if "cpus_per_task" in group:
            group["cpus_per_task"] = 1
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_jmini_runs_end_to_end_on_reduced_caps(snakemake_run, repo_root, shared_data, tmp_path):
    configfile = reduced_jmini(repo_root, shared_data, tmp_path / "jmini_reduced.yaml")
    proc = snakemake_run("all", "results/manifest.json", configfile=str(configfile), extra=["--show-failed-logs"])
    wd = proc.workdir
    for artifact in selected():  # the paper's artifacts (no extension study listed)
        for name in artifact.files:
            assert (wd / name).is_file() and (wd / name).stat().st_size > 0, name
    table = pd.read_csv(wd / "results" / "tables" / "table1.csv")
    assert len(table) == 1 + len(
        yaml.safe_load(configfile.read_text(encoding="utf-8"))["evaluate"].get("baselines", [])
    )
    # every real task produced a finite main score, pretrain-only and fine-tuned
    rows = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (wd / "results" / "evaluate").glob("*/seed_*/*/*.json")
        if not p.name.endswith(".examples.json")
    ]
    assert len(rows) == 2 * len(yaml.safe_load(configfile.read_text(encoding="utf-8"))["evaluate"]["tasks"])
    assert all(-1.0 <= r["main_score"] <= 1.0 for r in rows)  # NaN fails too (Spearman may be negative)
    # decontamination ran on the real files and says what it dropped
    manifest = json.loads(
        (wd / "results" / "data" / "contrastive" / "wsl" / "manifest.json").read_text(encoding="utf-8")
    )
    dropped = {d["name"]: d["dropped"] for d in manifest["datasets"]}
    assert dropped["jsts"]["evaluation_text"] > 0
