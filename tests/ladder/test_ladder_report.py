"""The ladder's figure and tables render from planted inputs (Table 1's stats JSON, the parameter
counts, the loss files) with the documented columns, and refuse inputs that do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import twinarch.ladder.report as report
from twinarch.core.io import DataError
from twinarch.ladder.config import ROLE_FAMILIES, ROLE_LABELS

SIZES = {"ettin-17m": 17_000_000, "ettin-32m": 32_000_000}
COLUMNS = ("Avg", "Avg (categories)", "Retrieval", "STS")
# Planted averages: the encoder leads, cross-objective models fall short of the native ones.
SCORES = {"encoder": 60.0, "decoder_mlm": 55.0, "decoder": 50.0, "encoder_clm": 45.0}


def arm_name(role: str, size: str) -> str:
    return f"{role}_{size.replace('-', '_')}"


ARMS = [
    {"name": arm_name(role, size), "display_name": f"{ROLE_LABELS[role]} {size}", "size": size, "role": role}
    for size in SIZES
    for role in SCORES
]


def cell(mean: float) -> dict:
    return {"mean": mean, "low": mean - 1.0, "high": mean + 1.0, "per_seed": [mean - 0.5, mean + 0.5]}


@pytest.fixture()
def planted(tmp_path: Path) -> dict[str, Path]:
    stats = {
        "resamples": 10,
        "ft": {
            a["name"]: {
                c: cell(SCORES[a["role"]] + i + (5 if a["size"] == "ettin-32m" else 0)) for i, c in enumerate(COLUMNS)
            }
            for a in ARMS
        },
    }
    (tmp_path / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    counts = pd.DataFrame(
        [{"arm": a["name"], "family": ROLE_FAMILIES[a["role"]], "non_embedding_params": SIZES[a["size"]]} for a in ARMS]
    )
    counts.to_csv(tmp_path / "param_counts.csv", index=False)
    losses = []
    for a in ARMS:
        for seed in (0, 1):
            path = tmp_path / "losses" / a["name"] / f"seed_{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"arm": a["name"], "seed": seed, "mlm_loss": 3.0 + seed, "clm_loss": 4.0}))
            losses.append(path)
    return {"stats": tmp_path / "stats.json", "counts": tmp_path / "param_counts.csv", "losses": losses}


def test_the_figure_has_one_log_x_line_per_model_kind(planted, tmp_path, monkeypatch):
    drawn = {}
    real_save = report.save_figure

    def keep(fig, prefix):
        drawn["fig"] = fig
        return real_save(fig, prefix)

    monkeypatch.setattr(report, "save_figure", keep)
    paths = report.make_ladder_figure(planted["stats"], planted["counts"], ARMS, tmp_path / "ladder")
    assert [p.name for p in paths] == ["ladder.pdf", "ladder.png"] and all(p.stat().st_size for p in paths)
    ax = drawn["fig"].axes[0]
    assert ax.get_xscale() == "log"
    assert [report.parameter_label(t) for t in ax.get_xticks()] == ["17M", "32M"]
    assert [report.parameter_label(n) for n in (82_240, 656_512, 1_780_000, 1.2e9)] == [
        "0.082M",
        "0.66M",
        "1.8M",
        "1.2B",
    ]
    # One errorbar per kind: its data line, and the interval as the error bars.
    lines = {bars.get_label(): bars.lines[0] for bars in ax.containers}
    assert set(lines) == set(ROLE_LABELS.values())
    encoder = lines[ROLE_LABELS["encoder"]]
    assert list(encoder.get_xdata()) == [17_000_000, 32_000_000] and list(encoder.get_ydata()) == [60.0, 65.0]
    assert lines[ROLE_LABELS["decoder_mlm"]].get_linestyle() == "--" and encoder.get_linestyle() == "-"


def test_the_tables_have_the_documented_columns(planted, tmp_path):
    cross = {size: tmp_path / f"cross_{size}" for size in SIZES}
    report.make_ladder_tables(
        planted["stats"], planted["counts"], planted["losses"], ARMS, tmp_path / "ladder", cross, "demo", 0.15
    )
    ladder = pd.read_csv(tmp_path / "ladder.csv")
    expected = ["Model", "Objective", "Non-embedding params (M)"]
    for column in COLUMNS:
        expected += [column, f"{column} low", f"{column} high"]
    assert list(ladder.columns) == expected
    # By kind (native encoder, decoder -> MLM, native decoder, encoder -> CLM), then size.
    assert list(ladder["Objective"]) == [ROLE_LABELS[r] for r in SCORES for _ in SIZES]
    assert list(ladder["Non-embedding params (M)"][:2]) == [17.0, 32.0]
    assert list(ladder["Avg"][:2]) == [60.0, 65.0] and list(ladder["Avg low"][:2]) == [59.0, 64.0]

    small = pd.read_csv(tmp_path / "cross_ettin-17m.csv")
    assert list(small.columns) == [*expected[:2], *expected[3:], "MLM loss", "CLM loss"]
    assert list(small["Objective"]) == list(ROLE_LABELS.values())
    assert list(small["Avg"]) == list(SCORES.values())
    assert list(small["MLM loss"]) == [3.5] * 4 and list(small["CLM loss"]) == [4.0] * 4  # seed means
    markdown = (tmp_path / "cross_ettin-17m.md").read_text(encoding="utf-8")
    assert "**60.00 [59.0, 61.0]**" in markdown and "mean over 2 replicate seed(s)" in markdown
    assert (tmp_path / "cross_ettin-32m.tex").is_file()


def test_inputs_that_do_not_fit_are_refused(planted, tmp_path):
    unknown = [*ARMS, {"name": "stray", "display_name": "Stray", "size": "ettin-17m", "role": "encoder"}]
    with pytest.raises(DataError, match="arm 'stray' has no Table 1 numbers"):
        report.read_ladder(planted["stats"], planted["counts"], unknown)
    wrong = [{**ARMS[0], "role": "decoder"}]
    with pytest.raises(DataError, match="is a modernbert, but a Decoder"):
        report.read_ladder(planted["stats"], planted["counts"], wrong)
    frame = report.read_ladder(planted["stats"], planted["counts"], ARMS)
    with pytest.raises(DataError, match="no validation losses of arms"):
        report.write_cross_objective_tables(
            frame, report.read_losses(planted["losses"][:2]), {"ettin-17m": tmp_path / "x"}, "demo", 0.15
        )


def test_a_one_rung_ladder_sits_in_the_middle_of_its_axis(planted, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(report, "save_figure", lambda fig, prefix: drawn.setdefault("fig", fig) and [])
    one_rung = [a for a in ARMS if a["size"] == "ettin-17m"]
    report.make_ladder_figure(planted["stats"], planted["counts"], one_rung, tmp_path / "ladder")
    low, high = drawn["fig"].axes[0].get_xlim()
    assert low < 17_000_000 < high and high / 17_000_000 == pytest.approx(17_000_000 / low)
