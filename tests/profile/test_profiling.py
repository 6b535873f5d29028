"""The throughput/memory sweep on a CPU: exact input lengths, arms interleaved in worker processes,
every column written, rounds reduced to their median, OOM recorded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from tiny_models import save_tiny_pretrained, tiny_arm

from twinarch.core.config import ConfigError, load_config
from twinarch.core.device import DeviceSettings
from twinarch.core.io import atomic_write_jsonl, iter_jsonl
from twinarch.data.text_samples import TextSource
from twinarch.embed.model import attends_to_later_tokens
from twinarch.profile.config import ProfileSettings, check_profile_section
from twinarch.profile.measure import (
    CLEAR_REFS,
    PROFILE_COLUMNS,
    ArmProfiler,
    CellMeter,
    CellRounds,
    build_random_model,
    encode_texts,
    fixed_length_texts,
    measure_cell,
)
from twinarch.profile.workers import ArmJob, grid, profile_arms, schedule

CPU = DeviceSettings("cpu", torch.float32, "sdpa")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tests share two cores with others; one torch thread keeps them fast and predictable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def source_texts(shared_data: Path) -> list[str]:
    rows = iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")
    return [row["text"] for _, row in zip(range(40), rows)]


@pytest.fixture(scope="module")
def model_dirs(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("model_configs")
    return {f: save_tiny_pretrained(f, tiny_tokenizer_dir, root / f) for f in ("modernbert", "llama")}


def settings(texts: TextSource | None = None, **overrides) -> ProfileSettings:
    values = dict(
        seq_lens=(16, 32),
        batch_sizes=(2, 4),
        modes=("forward", "encode"),
        warmup_iters=1,
        timed_iters=1,
        rounds=2,
        texts=texts,
        threads=1,
    )
    values.update(overrides)
    return ProfileSettings(**values)


@pytest.fixture(scope="module")
def llama_model(model_dirs, tiny_tokenizer_dir):
    return build_random_model(
        model_dirs["llama"], tiny_tokenizer_dir, tiny_arm("llama"), CPU, max_seq_length=64, normalize=False, seed=0
    )


@pytest.mark.parametrize("seq_len", [16, 33, 64])
def test_inputs_tokenise_to_exactly_the_cell_length(llama_model, source_texts, seq_len):
    texts = fixed_length_texts(llama_model.tokenizer, source_texts[:3], seq_len, count=7)
    assert len(texts) == 7 and len(set(texts)) > 1
    llama_model.max_seq_length = seq_len
    features = llama_model.preprocess(texts)
    assert features["input_ids"].shape == (7, seq_len)
    assert bool(features["attention_mask"].all())


@pytest.mark.parametrize("family", ["modernbert", "llama"])
@pytest.mark.parametrize("pooling", ["mean", "lasttoken"])
def test_encode_path_matches_sentence_transformers_encode(
    model_dirs, tiny_tokenizer_dir, source_texts, family, pooling
):
    model = build_random_model(
        model_dirs[family],
        tiny_tokenizer_dir,
        tiny_arm(family, pooling=pooling),
        CPU,
        max_seq_length=48,
        normalize=False,
        seed=0,
    )
    texts = [t[: 5 + 7 * i] for i, t in enumerate(source_texts[:11])]  # lengths differ: padding matters
    ours = encode_texts(model, texts, batch_size=4)
    theirs = model.encode(texts, batch_size=4, convert_to_tensor=True)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("bidirectional", "expected"), [(True, True), (False, False)])
def test_random_decoder_gets_the_arms_attention_direction(model_dirs, tiny_tokenizer_dir, bidirectional, expected):
    model = build_random_model(
        model_dirs["llama"],
        tiny_tokenizer_dir,
        tiny_arm("llama", bidirectional=bidirectional),
        CPU,
        max_seq_length=32,
        normalize=False,
        seed=0,
    )
    assert attends_to_later_tokens(model) is expected


def profile_section(texts_file: Path) -> dict:
    return {
        "seq_lens": [16, 32],
        "batch_sizes": [2, 4],
        "modes": ["forward", "encode"],
        "warmup_iters": 1,
        "timed_iters": 1,
        "rounds": 2,
        "texts": {"path": str(texts_file), "text_field": "text", "max_rows": 20},
        "baseline_arm": "llama",
        "report_mode": "encode",
        "table2_cell": {"seq_len": 32, "batch_size": 4},
        "table2_note": "",
        "threads": 1,
    }


def test_interleaved_workers_write_every_column_for_every_arm(model_dirs, tiny_tokenizer_dir, source_texts, tmp_path):
    texts_file = tmp_path / "texts.jsonl"
    atomic_write_jsonl(texts_file, [{"text": t} for t in source_texts])
    jobs = [
        ArmJob(
            arm=tiny_arm(family).__dict__,
            model_config_dir=str(model_dirs[family]),
            tokenizer_dir=str(tiny_tokenizer_dir),
            out_csv=str(tmp_path / "profile" / f"{family}.csv"),
        )
        for family in ("modernbert", "llama")
    ]
    profile_arms(
        jobs,
        profile_section=profile_section(texts_file),
        device_section={"dtype": "float32", "attn_implementation": "sdpa"},
        data_root=str(tmp_path),
        normalize=False,
        seed=0,
        threads=1,
    )
    for job in jobs:
        written = pd.read_csv(job.out_csv, keep_default_na=False, na_values=[""])
        assert list(written.columns) == list(PROFILE_COLUMNS)
        assert len(written) == 2 * 2 * 2
        assert set(written["arm"]) == {job.name} and set(written["status"]) == {"ok"}
        assert set(written["family"]) == {job.arm["family"]}
        assert set(zip(written["mode"], written["seq_len"], written["batch_size"])) == {
            (m, s, b) for m in ("forward", "encode") for s in (16, 32) for b in (2, 4)
        }
        # Only the CUDA-only columns may be empty on a CPU.
        cuda_only = {"reserved_memory_mb", "flash_attn_version"}
        for column in set(PROFILE_COLUMNS) - cuda_only:
            assert written[column].notna().all(), column
        assert (written["rounds"] == 2).all() and (written["torch_threads"] == 1).all()
        assert (written["samples_per_s"] > 0).all()
        pd.testing.assert_series_equal(
            written["ms_per_sample"], 1000.0 / written["samples_per_s"], check_names=False, rtol=1e-6
        )
        # float32 weights are a floor of the model's memory
        assert (written["peak_memory_mb"] >= written["parameters"] * 4 / 2**20).all()
        assert set(written["device"]) == {"cpu"} and set(written["dtype"]) == {"float32"}
        assert set(written["attn_implementation"]) == {"sdpa"}
        assert written["torch_version"].str.startswith("2.").all()
        assert set(written["memory_measure"]) <= {"model_plus_cell_rss_growth", "process_peak_rss"}


def test_a_failing_worker_names_its_arm(model_dirs, tiny_tokenizer_dir, source_texts, tmp_path):
    texts_file = tmp_path / "texts.jsonl"
    atomic_write_jsonl(texts_file, [{"text": t} for t in source_texts])
    job = ArmJob(
        arm=tiny_arm("llama", name="broken").__dict__,
        model_config_dir=str(tmp_path / "no_such_model"),
        tokenizer_dir=str(tiny_tokenizer_dir),
        out_csv=str(tmp_path / "broken.csv"),
    )
    with pytest.raises(RuntimeError, match="profiling arm 'broken'.*no_such_model"):
        profile_arms(
            [job],
            profile_section=profile_section(texts_file),
            device_section={},
            data_root=str(tmp_path),
            normalize=False,
            seed=0,
            threads=1,
        )
    assert not (tmp_path / "broken.csv").exists()


def test_schedule_interleaves_arms_cell_by_cell_and_rotates_the_first():
    cells = [("encode", 16, 2), ("encode", 16, 4), ("encode", 32, 2)]
    order = list(schedule(["a", "b", "c"], cells, rounds=2))
    assert len(order) == 3 * 3 * 2
    for position in range(0, len(order), 3):
        block = order[position : position + 3]
        assert len({(r, cell) for r, cell, _ in block}) == 1, "a cell's arms run back to back"
        assert sorted(arm for _, _, arm in block) == ["a", "b", "c"]
    firsts = [order[p][2] for p in range(0, len(order), 3)]
    assert firsts == ["a", "b", "c", "a", "b", "c"]
    assert [r for r, _, _ in order] == [0] * 9 + [1] * 9


def test_grid_runs_batch_sizes_small_to_large():
    cells = grid(settings(batch_sizes=(2, 4, 8)))
    assert cells[:3] == [("forward", 16, 2), ("forward", 16, 4), ("forward", 16, 8)]
    assert len(cells) == 2 * 2 * 3


def test_rounds_report_the_median_and_any_out_of_memory():
    cell = CellRounds()
    cell.add({"status": "ok", "times_ms": [10.0, 11.0], "peak_memory_mb": 100.0, "reserved_memory_mb": float("nan")})
    cell.add({"status": "ok", "times_ms": [50.0], "peak_memory_mb": 120.0, "reserved_memory_mb": float("nan")})
    row = cell.row("encode", 16, 4, timed_iters=2)
    assert row["ms_per_batch"] == 11.0, "one slow iteration does not move the median"
    assert row["samples_per_s"] == pytest.approx(4000.0 / 11.0)
    assert row["peak_memory_mb"] == 100.0 and row["rounds"] == 2
    cell.add({"status": "oom"})
    assert cell.row("encode", 16, 4, timed_iters=2)["status"] == "oom"


@pytest.mark.skipif(not CLEAR_REFS.exists(), reason="per-cell resident-set peaks need Linux's clear_refs")
def test_cpu_cell_memory_is_the_model_plus_what_the_cell_allocates():
    meter = CellMeter("cpu", model_mb=5.0)
    held = []
    baseline = measure_cell(meter, lambda: None, warmup_iters=0, timed_iters=1)["peak_memory_mb"]
    result = measure_cell(meter, lambda: held.append(torch.ones(64, 2**18)), warmup_iters=0, timed_iters=1)
    assert 5.0 <= baseline < 20.0, "a cell that allocates nothing costs about the model"
    assert result["peak_memory_mb"] - baseline >= 60.0, "a 64 MiB tensor shows in the cell's peak"


def test_out_of_memory_cells_are_recorded_not_raised(llama_model, source_texts, monkeypatch):
    real_forward = llama_model.forward
    batches_run = []

    def forward_that_runs_out_of_memory(features, **kwargs):
        batch = features["input_ids"].shape[0]
        batches_run.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(features, **kwargs)

    monkeypatch.setattr(llama_model, "forward", forward_that_runs_out_of_memory)
    grid_settings = settings(batch_sizes=(2, 4, 8), modes=("forward",), warmup_iters=0)
    profiler = ArmProfiler(llama_model, grid_settings, source_texts)
    for _round in range(2):
        for cell in grid(grid_settings):
            profiler.measure(*cell)
    rows = profiler.rows()
    status = {(r["seq_len"], r["batch_size"]): r["status"] for r in rows}
    assert status == {(16, 2): "ok", (16, 4): "oom", (16, 8): "oom", (32, 2): "ok", (32, 4): "oom", (32, 8): "oom"}
    assert 8 not in batches_run, "a batch larger than one out of memory is recorded without running"
    assert all("samples_per_s" not in r for r in rows if r["status"] == "oom")
    assert all(r["rounds"] == 2 for r in rows)


def test_table2_cell_outside_the_grid_is_rejected_at_parse_time(repo_root):
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": "/nonexistent"})
    config["profile"]["table2_cell"] = {"seq_len": 999, "batch_size": 8}
    with pytest.raises(ConfigError, match="profile.table2_cell"):
        check_profile_section(config)
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": "/nonexistent"})
    config["profile"]["baseline_arm"] = "nope"
    with pytest.raises(ConfigError, match="profile.baseline_arm"):
        check_profile_section(config)
