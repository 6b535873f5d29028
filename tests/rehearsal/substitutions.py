"""The rehearsal's config: config/paper.yaml with its hub ids read through a local mirror and its
sizes and budgets cut to what two CPU cores run in minutes. Nothing else changes: every arm, stage,
corpus, dataset, column mapping, optimizer, schedule, objective, loss, pooling and benchmark of the
paper config is the one the rehearsal runs (tests/study/test_rehearsal.py checks that only the keys
of SUBSTITUTED differ).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# A size preset at toy scale; both families keep their architecture, the decoder its grouped-query
# attention (4 heads over 2 KV heads, as the paper's 16 over 8).
TINY = {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4}
# One JMTEB(v2) task per category the mirror holds data for: the benchmark's own task classes,
# splits and scoring on mirrored data.
BENCHMARK_TASKS = ["JSTS", "LivedoorNewsClustering.v2", "JapaneseSentimentClassification", "JaqketRetrieval"]
PRETRAIN_SEQ_LENS = (32, 64)
OPTIMIZER_STEPS = 4

# Config keys (dotted, `*` for any list index or mapping key) the rehearsal may change.
SUBSTITUTED = (
    "hub_mirror",
    "seeds",
    "arms.*.size",
    "arms.*.sizes",
    "models.presets",
    "models.llama.num_key_value_heads",
    "shards.num_shards",
    "shards.validation_fraction",
    "pretrain.eval_max_blocks",
    "pretrain.dataloader_workers",
    "pretrain.threads",
    "pretrain.stages.*.seq_len",
    "pretrain.stages.*.token_budget",
    "pretrain.stages.*.per_device_batch_size",
    "pretrain.stages.*.gradient_accumulation_steps",
    # DeepSpeed needs a distributed launch, which one CPU process is not; ZeRO-2 itself runs in
    # tests/pretrain's two-rank test.
    "pretrain.stages.*.deepspeed",
    "embed.stages.*.max_rows_per_dataset",
    "embed.stages.*.max_seq_length",
    "embed.stages.*.per_device_batch_size",
    "embed.stages.*.mini_batch_size",
    "profile.seq_lens",
    "profile.batch_sizes",
    "profile.warmup_iters",
    "profile.timed_iters",
    "profile.rounds",
    "profile.threads",
    "profile.texts.max_rows",
    "profile.table2_cell",
    "quality.positive_pairs.max_rows",
    "quality.random_texts.max_rows",
    "quality.batch_size",
    "quality.max_seq_length",
    "evaluate.batch_size",
    "evaluate.benchmark_tasks",
    "resources",
    # The opt-in studies are not in the rehearsal's `all`, but their sections are checked against
    # the toy sizes at parse time: LLM2Vec's windows must fit the stage-2 blocks, k the layers.
    "llm2vec.steps.*.seq_len",
    "llm2vec.steps.*.max_steps",
    "llm2vec.steps.*.per_device_batch_size",
    "llm2vec.steps.*.max_sentences",
    "llm2vec.steps.*.max_seq_length",
    "prune.ks",
    "prune.calibration.texts.*.max_rows",
    "prune.calibration.max_length",
    "prune.recovery.max_seq_length",
    "prune.recovery.per_device_batch_size",
    "prune.recovery.mini_batch_size",
)


def rehearsal_config(paper: dict[str, Any], mirror: Path) -> dict[str, Any]:
    """`paper` (config/paper.yaml as written) with `hub_mirror` and toy sizes and budgets."""
    config = copy.deepcopy(paper)
    config["hub_mirror"] = str(mirror)
    config["seeds"] = config["seeds"][:1]  # one replicate: every job of the chain, once
    for arm in config["arms"]:
        if arm.get("sizes"):
            arm["sizes"] = ["rehearsal-tiny"]  # a ladder (an opt-in study): one toy rung
        elif arm.get("size") not in (None, "from-pretrained"):
            arm["size"] = "rehearsal-tiny"
    config["models"]["presets"] = {"rehearsal-tiny": TINY}
    config["models"]["llama"]["num_key_value_heads"] = 2
    config["shards"].update(num_shards=2, validation_fraction=0.1)
    config["pretrain"].update(eval_max_blocks=4, dataloader_workers=0, threads=1)
    for stage, seq_len in zip(config["pretrain"]["stages"], PRETRAIN_SEQ_LENS, strict=True):
        stage.update(seq_len=seq_len, per_device_batch_size=2, gradient_accumulation_steps=2, deepspeed=None)
        stage["token_budget"] = OPTIMIZER_STEPS * 2 * 2 * seq_len
    for stage in config["embed"]["stages"]:
        if stage.get("max_rows_per_dataset"):
            stage["max_rows_per_dataset"] = 16
        stage.update(max_seq_length=stage["max_seq_length"] // 8, per_device_batch_size=4, mini_batch_size=2)
    config["profile"].update(seq_lens=[16, 32], batch_sizes=[2, 4], warmup_iters=1, timed_iters=1, rounds=1, threads=1)
    config["profile"]["texts"]["max_rows"] = 16
    config["profile"]["table2_cell"] = {"seq_len": 16, "batch_size": 4}
    config["quality"]["positive_pairs"]["max_rows"] = 8
    config["quality"]["random_texts"]["max_rows"] = 16
    config["quality"].update(batch_size=8, max_seq_length=64)
    config["evaluate"].update(batch_size=16, benchmark_tasks=BENCHMARK_TASKS)
    config["resources"] = {"default": {"cpus_per_task": 1, "mem_mb": 2000, "runtime": 15}}
    for step in config.get("llm2vec", {}).get("steps", []):
        step.update(max_steps=OPTIMIZER_STEPS, per_device_batch_size=2)
        if step["kind"] == "mntp":
            step["seq_len"] = PRETRAIN_SEQ_LENS[-1]
        else:
            step.update(max_sentences=64, max_seq_length=32)
    if "prune" in config:
        prune = config["prune"]
        prune["ks"] = [1]  # of the toy models' two layers
        for source in prune["calibration"]["texts"]:
            source["max_rows"] = 8
        prune["calibration"]["max_length"] = 32
        recovery = prune["recovery"]
        recovery.update(max_seq_length=recovery["max_seq_length"] // 8, per_device_batch_size=4, mini_batch_size=2)
    return config


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf; list items are keyed by position."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, item in enumerate(value):
            yield from leaves(item, f"{prefix}.{i}")
    else:
        yield prefix, value


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    old, new = dict(leaves(before)), dict(leaves(after))
    return {key for key in old.keys() | new.keys() if old.get(key, object()) != new.get(key, object())}


def substituted(key: str) -> bool:
    """Whether `key` lies under one of SUBSTITUTED."""
    for pattern in SUBSTITUTED:
        regex = re.escape(pattern).replace(r"\*", r"[^.]+")
        if re.fullmatch(f"{regex}(\\..+)?", key):
            return True
    return False
