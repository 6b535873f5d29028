"""Pruned models are timed like every arm (twinarch.profile.measure) and scored like every model
(twinarch.evaluate.scoring), straight from their directories."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

from twinarch.core.io import atomic_write_jsonl, iter_jsonl
from twinarch.embed.model import save_embedding_model
from twinarch.evaluate.config import examples_path
from twinarch.prune.config import pruned_stage
from twinarch.prune.model import drop_mlps, load_pruned_model
from twinarch.prune.score import score_pruned_model
from twinarch.prune.speed import SpeedJob, measure_speeds

DEVICE = {"dtype": "float32", "attn_implementation": "sdpa"}


@pytest.fixture(scope="module")
def dropped_dir(embedding_dirs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = drop_mlps(load_pruned_model(embedding_dirs["llama-bi"]), [0, 1, 2])
    return save_embedding_model(model, tmp_path_factory.mktemp("dropped") / "model")


def profile_section(texts: Path) -> dict:
    return {
        "seq_lens": [16],
        "batch_sizes": [4],
        "modes": ["forward"],
        "warmup_iters": 0,
        "timed_iters": 2,
        "rounds": 2,
        "texts": {"path": str(texts), "max_rows": 20},
        "threads": 1,
    }


def test_every_model_is_timed_at_one_encode_cell_in_one_job(embedding_dirs, dropped_dir, shared_data, tmp_path):
    texts = tmp_path / "texts.jsonl"
    passages = iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")
    atomic_write_jsonl(texts, [row for _, row in zip(range(20), passages)])
    arm = {"name": "llama_bi", "family": "llama", "bidirectional": True, "pooling": "mean"}
    jobs = [SpeedJob(arm, 0, str(embedding_dirs["llama-bi"])), SpeedJob(arm, 3, str(dropped_dir))]
    out = tmp_path / "throughput.csv"
    measure_speeds(
        jobs,
        profile_section=profile_section(texts),
        device_section=DEVICE,
        data_root="unused",
        seed=0,
        threads=1,
        seq_len=16,
        batch_size=8,
        out_csv=out,
        fragment={"test": True},
    )
    table = pd.read_csv(out)
    assert list(table["k"]) == [0, 3] and set(table["mode"]) == {"encode"}
    assert set(table["seq_len"]) == {16} and set(table["batch_size"]) == {8}  # not the grid's batch sizes
    assert (table["rounds"] == 2).all() and (table["samples_per_s"] > 0).all()
    assert table.loc[1, "non_embedding_params"] < table.loc[0, "non_embedding_params"]
    assert table.loc[1, "parameters"] < table.loc[0, "parameters"]


def test_a_pruned_model_is_scored_as_its_own_stage(dropped_dir, tmp_path):
    path = tmp_path / "sts.jsonl"
    atomic_write_jsonl(
        path,
        [{"sentence1": f"犬が{i}回走る", "sentence2": f"猫が{i % 7}回座る", "label": float(i % 6)} for i in range(30)],
    )
    entry = {
        "name": "LocalSTS",
        "type": "sts",
        "path": str(path),
        "columns": {"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"},
    }
    settings = {"stages": ["ft"], "batch_size": 16, "max_seq_length": 32, "benchmark": None, "prefixes": {}}
    stage = pruned_stage("ft", 3, "dropped")
    out = tmp_path / "LocalSTS.json"
    (row,) = score_pruned_model(
        dropped_dir,
        [out],
        arm="llama_bi",
        replicate=0,
        stage=stage,
        entries=[entry],
        settings=settings,
        device=DEVICE,
        seed=0,
        cache_dir=tmp_path / "mteb",
    )
    assert json.loads(out.read_text(encoding="utf-8"))["stage"] == stage == "ft-drop3-dropped"
    assert row["category"] == "STS" and math.isfinite(row["main_score"]) and row["seed"] == 0
    assert examples_path(out).is_file()  # what Table 1's intervals resample
    assert f"twinarch__llama_bi-{stage}" in Path(row["mteb_result"]).parts
