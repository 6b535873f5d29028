"""The head-influence and position-profile arithmetic on hand-made tables, and that both figures
and the table render from job outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from twinarch.core.io import DataError, atomic_write_json, atomic_write_text
from twinarch.sensitivity.config import INTEGRATED_GRADIENTS, OCCLUSION
from twinarch.sensitivity.measure import occluded_positions
from twinarch.sensitivity.report import (
    decile_profile,
    head_summary,
    length_bins,
    write_sensitivity_report,
)

NETWORKS = [
    ("encoder", "modernbert", "saved", "bidirectional", "mean"),
    ("decoder", "llama", "saved", "bidirectional", "mean"),
    ("decoder", "llama", "causal", "causal", "lasttoken"),
    ("decoder", "llama", "causal", "causal", "mean"),
]
MAX_OCCLUDED = 20


def value(attention: str, pooling: str, position: int, length: int) -> float:
    """Uniform for bidirectional networks; a causal mean reader leans on early tokens, a last-token
    reader on the end."""
    if attention == "bidirectional":
        return 0.5
    return 1.0 / (position + 1) if pooling == "mean" else (position + 1) / length


def tables(lengths=(16, 64), documents=2, stages=("base", "ft")) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, deltas = [], []
    for model, family, variant, attention, pooling in NETWORKS:
        for stage in stages:
            labels = dict(
                model=model, seed=0, family=family, stage=stage, variant=variant, attention=attention, pooling=pooling
            )
            for document in range(documents):
                for length in lengths:
                    positions, weight = occluded_positions(length, MAX_OCCLUDED)
                    for p in positions:
                        w = 1.0 if p < 8 else weight
                        v = value(attention, pooling, p, length)
                        rows.append({**labels, "document": document, "length": length, "position": p,
                                     "measure": OCCLUSION, "value": v, "weight": w})  # fmt: skip
                    for p in range(length):
                        v = -value(attention, pooling, p, length)  # signed: magnitudes count
                        rows.append({**labels, "document": document, "length": length, "position": p,
                                     "measure": INTEGRATED_GRADIENTS, "value": v, "weight": 1.0})  # fmt: skip
                    deltas.append({**labels, "document": document, "length": length, "n_steps": 16,
                                   "similarity": 1.0, "baseline_similarity": 0.2, "attribution_sum": 0.8,
                                   "delta": 1e-4 * (document + 1)})  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(deltas)


def test_a_uniform_reader_gives_the_head_its_positional_share_even_when_positions_are_sampled():
    positions, _ = tables()
    summary = head_summary(positions)
    uniform = summary[(summary["attention"] == "bidirectional")].set_index(["measure", "length"])["share"]
    # 8 of 16 positions; at 64 only 20 are occluded, the sampled ones weighted up to the full 64.
    assert uniform.loc[(OCCLUSION, 16)].tolist() == pytest.approx([0.5] * 4)
    assert uniform.loc[(OCCLUSION, 64)].tolist() == pytest.approx([8 / 64] * 4)
    assert uniform.loc[(INTEGRATED_GRADIENTS, 64)].tolist() == pytest.approx([8 / 64] * 4)
    causal_mean = summary[(summary["attention"] == "causal") & (summary["pooling"] == "mean")]
    assert (causal_mean["share"] > 8 / 64).all() and (causal_mean["documents"] == 2).all()


def test_the_position_profile_is_flat_at_one_for_a_uniform_reader_and_falls_for_a_causal_mean_one():
    profile = decile_profile(tables()[0])
    uniform = profile[profile["attention"] == "bidirectional"]
    assert uniform["normalised"].tolist() == pytest.approx([1.0] * len(uniform))
    causal = profile[(profile["pooling"] == "mean") & (profile["attention"] == "causal")]
    first, last = causal[causal["decile"] == 0]["normalised"], causal[causal["decile"] == 9]["normalised"]
    assert (first.to_numpy() > 1.0).all() and (last.to_numpy() < 1.0).all()
    assert sorted(profile["decile"].unique()) == list(range(10))


def test_lengths_fall_into_at_most_three_consecutive_bins():
    assert length_bins([512, 16, 32, 64, 128, 256]) == [(16, 32), (64, 128), (256, 512)]
    assert length_bins([32, 16]) == [(16,), (32,)]


def write_jobs(root: Path, positions: pd.DataFrame, deltas: pd.DataFrame, token_ids: dict[str, int]):
    paths = {"positions": [], "deltas": [], "manifests": []}
    for (model, stage), frame in positions.groupby(["model", "stage"]):
        job = root / model / stage
        job.mkdir(parents=True)
        frame.to_parquet(job / "positions.parquet", index=False)
        selected = deltas[(deltas["model"] == model) & (deltas["stage"] == stage)]
        atomic_write_text(job / "ig_deltas.csv", selected.to_csv(index=False))
        atomic_write_json(job / "manifest.json", {"occlusion_token_id": token_ids[model]})
        paths["positions"].append(job / "positions.parquet")
        paths["deltas"].append(job / "ig_deltas.csv")
        paths["manifests"].append(job / "manifest.json")
    return paths


def test_both_figures_and_the_table_render_from_job_outputs(tmp_path):
    positions, deltas = tables(lengths=(16, 32, 64, 128))
    paths = write_jobs(tmp_path / "jobs", positions, deltas, {"encoder": 1, "decoder": 1})
    written = write_sensitivity_report(
        **paths,
        head_prefix=tmp_path / "figures" / "sensitivity_head",
        position_prefix=tmp_path / "figures" / "sensitivity_position",
        table_prefix=tmp_path / "tables" / "sensitivity_head",
        display_names={"encoder": "Encoder", "decoder": "Decoder"},
        stages=["base", "ft"],
    )
    assert [p.name for p in written] == [
        *("sensitivity_head.pdf", "sensitivity_head.png", "sensitivity_position.pdf", "sensitivity_position.png"),
        *("sensitivity_head.csv", "sensitivity_head.md", "sensitivity_head.tex"),
    ]
    for png in (p for p in written if p.suffix == ".png"):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
    table = pd.read_csv(tmp_path / "tables" / "sensitivity_head.csv")
    assert len(table) == len(NETWORKS) * 2 * 2  # networks x stages x measures
    assert list(table.columns[-5:]) == ["L=16", "L=32", "L=64", "L=128", "max abs delta"]
    ig = table[table["measure"] == "IG"]
    assert ig["max abs delta"].tolist() == pytest.approx([2e-4] * len(ig))
    assert table[table["measure"] == "occlusion"]["max abs delta"].isna().all()


def test_models_occluded_with_different_tokens_are_not_compared(tmp_path):
    positions, deltas = tables(lengths=(16,))
    paths = write_jobs(tmp_path / "jobs", positions, deltas, {"encoder": 1, "decoder": 4})
    with pytest.raises(DataError, match="different token ids"):
        write_sensitivity_report(
            **paths,
            head_prefix=tmp_path / "head",
            position_prefix=tmp_path / "position",
            table_prefix=tmp_path / "table",
            display_names={"encoder": "Encoder", "decoder": "Decoder"},
            stages=["base", "ft"],
        )
