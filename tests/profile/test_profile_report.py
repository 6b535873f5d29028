"""Table 2 and Figures 2-4 from fixed rows: the numbers land where they should, the files are real."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from twinarch.core.io import DataError
from twinarch.profile.report import plot_fig3, plot_fig4, read_profiles, table2_frame, write_table2

ARMS = ["encoder", "decoder"]
DISPLAY_NAMES = {arm: arm.title() for arm in ARMS}
FAMILY = {"encoder": "modernbert", "decoder": "llama"}
# samples/s and MB at each (seq_len, batch): the encoder is faster and smaller, as in the paper.
SPEED = {"encoder": 2205.0, "decoder": 1421.0}
MEMORY = {"encoder": 2877.0, "decoder": 3885.0}


def profile_rows(arm: str) -> pd.DataFrame:
    rows = []
    for mode, seq_len, batch in itertools.product(["forward", "encode"], [128, 256], [16, 64, 128]):
        oom = arm == "decoder" and seq_len == 256 and batch == 128
        scale = batch / 128 * 128 / seq_len
        rows.append(
            {
                "arm": arm,
                "family": FAMILY[arm],
                "mode": mode,
                "seq_len": seq_len,
                "batch_size": batch,
                "status": "oom" if oom else "ok",
                "samples_per_s": float("nan") if oom else SPEED[arm] * scale * (1.1 if mode == "forward" else 1.0),
                "samples_per_s_low": float("nan") if oom else 0.95 * SPEED[arm] * scale,
                "samples_per_s_high": float("nan") if oom else 1.05 * SPEED[arm] * scale,
                "rounds": 3,
                "peak_memory_mb": float("nan") if oom else MEMORY[arm] * scale,
                "device_name": "NVIDIA H100 80GB HBM3",
                "dtype": "bfloat16",
                "attn_implementation": "flash_attention_2",
                "memory_measure": "cuda_max_allocated",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture()
def profiles(tmp_path: Path) -> pd.DataFrame:
    paths = []
    for arm in ARMS:
        path = tmp_path / f"{arm}.csv"
        profile_rows(arm).to_csv(path, index=False)
        paths.append(path)
    return read_profiles(paths, DISPLAY_NAMES)


def test_table2_reports_the_reference_cell_with_speedup_over_the_baseline(profiles, tmp_path):
    frame = table2_frame(profiles, mode="encode", seq_len=128, batch_size=128, baseline_arm="decoder")
    assert frame["Model"].to_list() == ["Encoder", "Decoder"]
    assert frame["Throughput (samples/s)"].to_list() == [2205.0, 1421.0]
    assert frame["Memory (MB)"].to_list() == [2877.0, 3885.0]
    assert frame["Speedup vs decoder"].round(2).to_list() == [1.55, 1.0]

    paths = write_table2(
        profiles,
        tmp_path / "table2",
        mode="encode",
        seq_len=128,
        batch_size=128,
        baseline_arm="decoder",
        note="Paper: 1.55x.",
    )
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex"]
    md = paths[1].read_text(encoding="utf-8")
    assert "| Encoder | **2205.00 [2094.8, 2315.2]** | **2877.00** | **1.55** |" in md  # [slowest, fastest round]
    assert "encode" in md and "NVIDIA H100" in md and "Paper: 1.55x." in md
    assert r"\toprule" in paths[2].read_text(encoding="utf-8")
    assert pd.read_csv(paths[0])["Throughput (samples/s)"].to_list() == [2205.0, 1421.0]


def test_an_out_of_memory_reference_cell_shows_a_dash_not_a_number(profiles, tmp_path):
    frame = table2_frame(profiles, mode="encode", seq_len=256, batch_size=128, baseline_arm="decoder")
    assert frame["Throughput (samples/s)"].isna().to_list() == [False, True]
    assert frame["Speedup vs decoder"].isna().all()
    md = write_table2(
        profiles, tmp_path / "t", mode="encode", seq_len=256, batch_size=128, baseline_arm="decoder", note=""
    )[1].read_text(encoding="utf-8")
    assert "| Decoder | – | – | – |" in md


def test_a_missing_reference_cell_names_the_cell(profiles):
    with pytest.raises(DataError, match="length 512, batch 128"):
        table2_frame(profiles, mode="encode", seq_len=512, batch_size=128, baseline_arm="decoder")


def test_profile_rows_of_an_arm_the_config_does_not_list_are_rejected(tmp_path):
    path = tmp_path / "x.csv"
    profile_rows("encoder").to_csv(path, index=False)
    with pytest.raises(DataError, match="encoder"):
        read_profiles([path], {"decoder": "Decoder"})


@pytest.mark.parametrize("plot", [plot_fig3, plot_fig4])
def test_figures_3_and_4_are_written_as_pdf_and_png(profiles, tmp_path, plot):
    paths = plot(profiles, tmp_path / plot.__name__, mode="encode")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert paths[0].read_bytes()[:4] == b"%PDF" and paths[1].read_bytes()[:4] == b"\x89PNG"
    assert all(p.stat().st_size > 5000 for p in paths)
