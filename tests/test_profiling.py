"""The throughput/memory sweep on a CPU: exact input lengths, every column written, OOM recorded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from tiny_models import save_tiny_pretrained, tiny_arm

from twinarch.config import ConfigError, load_config
from twinarch.device import DeviceSettings
from twinarch.embedding_model import attends_to_later_tokens
from twinarch.io import atomic_write_jsonl, iter_jsonl
from twinarch.profile_config import ProfileSettings, check_profile_section
from twinarch.profiling import (
    PROFILE_COLUMNS,
    build_random_model,
    encode_texts,
    fixed_length_texts,
    profile_arm,
    sweep,
)
from twinarch.text_samples import TextSource

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
        texts=texts,
        baseline_arm="llama",
        report_mode="encode",
        table2_seq_len=32,
        table2_batch_size=4,
        table2_note="",
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


def test_cpu_sweep_writes_every_column(model_dirs, tiny_tokenizer_dir, source_texts, tmp_path):
    texts_file = tmp_path / "texts.jsonl"
    atomic_write_jsonl(texts_file, [{"text": t} for t in source_texts])
    out = tmp_path / "profile" / "modernbert.csv"
    frame = profile_arm(
        model_config_dir=model_dirs["modernbert"],
        tokenizer_dir=tiny_tokenizer_dir,
        arm=tiny_arm("modernbert"),
        settings=settings(TextSource(key="profile.texts", path=str(texts_file), max_rows=20)),
        device=CPU,
        normalize=False,
        seed=0,
        out_csv=out,
        fragment={"profile": "test"},
    )
    written = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(written.columns) == list(PROFILE_COLUMNS)
    assert len(written) == len(frame) == 2 * 2 * 2
    assert set(written["status"]) == {"ok"}
    assert set(zip(written["mode"], written["seq_len"], written["batch_size"])) == {
        (m, s, b) for m in ("forward", "encode") for s in (16, 32) for b in (2, 4)
    }
    # Only the CUDA-only columns may be empty on a CPU.
    cuda_only = {"reserved_memory_mb", "flash_attn_version"}
    for column in set(PROFILE_COLUMNS) - cuda_only:
        assert written[column].notna().all(), column
    assert (written["samples_per_s"] > 0).all()
    pd.testing.assert_series_equal(
        written["ms_per_sample"], 1000.0 / written["samples_per_s"], check_names=False, rtol=1e-6
    )
    assert (written["peak_memory_mb"] > 10).all()
    assert set(written["device"]) == {"cpu"} and set(written["dtype"]) == {"float32"}
    assert set(written["attn_implementation"]) == {"sdpa"}
    assert written["torch_version"].str.startswith("2.").all()
    assert set(written["memory_measure"]) <= {"cell_peak_rss", "process_peak_rss"}


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
    rows = sweep(llama_model, settings(batch_sizes=(2, 4, 8), modes=("forward",), warmup_iters=0), source_texts)
    status = {(r["seq_len"], r["batch_size"]): r["status"] for r in rows}
    assert status == {(16, 2): "ok", (16, 4): "oom", (16, 8): "oom", (32, 2): "ok", (32, 4): "oom", (32, 8): "oom"}
    assert 8 not in batches_run, "a batch larger than one out of memory is recorded without running"
    assert all("samples_per_s" not in r for r in rows if r["status"] == "oom")


def test_table2_cell_outside_the_grid_is_rejected_at_parse_time(repo_root):
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": "/nonexistent"})
    config["profile"]["table2_cell"] = {"seq_len": 999, "batch_size": 8}
    with pytest.raises(ConfigError, match="profile.table2_cell"):
        check_profile_section(config)
    config = load_config(repo_root / "config" / "config.yaml", {"data_root": "/nonexistent"})
    config["profile"]["baseline_arm"] = "nope"
    with pytest.raises(ConfigError, match="profile.baseline_arm"):
        check_profile_section(config)
