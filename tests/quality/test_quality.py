"""Alignment and uniformity: exact values where they are known, and the measurement on a real model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from scipy.special import gammaln, ive
from tiny_models import save_tiny_pretrained, tiny_arm

from twinarch.core.device import DeviceSettings
from twinarch.core.io import DataError, atomic_write_jsonl, iter_jsonl
from twinarch.data.text_samples import PairSource, TextSource
from twinarch.embed.model import build_embedding_model, save_embedding_model
from twinarch.quality.config import QualitySettings
from twinarch.quality.measure import alignment, measure_quality, uniformity

CPU = DeviceSettings("cpu", torch.float32, "sdpa")


def uniform_sphere_uniformity(d: int, t: float = 2.0) -> float:
    """log E exp(-t |x - y|^2) for x, y independent and uniform on the unit sphere S^{d-1}.

    |x - y|^2 = 2 - 2u with u = <x, y>, whose density is proportional to (1 - u^2)^((d-3)/2), and
    E exp(s u) = Gamma(d/2) (2/s)^(d/2-1) I_{d/2-1}(s) (the von Mises-Fisher normaliser), s = 2t.
    `ive` is the exponentially scaled Bessel function: I_v(s) = ive(v, s) e^s.
    """
    s, v = 2 * t, d / 2 - 1
    log_mgf = gammaln(d / 2) + v * math.log(2 / s) + math.log(ive(v, s)) + s
    return -2 * t + log_mgf


def test_closed_form_matches_the_textbook_case_d3():
    # For d = 3, u is uniform on [-1, 1]: E exp(4u) = sinh(4) / 4.
    assert uniform_sphere_uniformity(3) == pytest.approx(-4 + math.log(math.sinh(4) / 4), rel=1e-12)


def test_alignment_is_zero_for_identical_pairs_and_four_for_opposite_ones():
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(0))
    assert alignment(x, x * 3.0) == pytest.approx(0.0, abs=1e-12)  # scale does not matter: normalised
    assert alignment(x, -x) == pytest.approx(4.0, abs=1e-12)


@pytest.mark.parametrize("d", [3, 16, 64])
def test_uniformity_of_uniform_points_on_the_sphere_matches_the_closed_form(d):
    # Normalised Gaussians are uniform on the sphere; 2000 points give about 2 million pairs.
    x = torch.randn(2000, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
    assert uniformity(x) == pytest.approx(uniform_sphere_uniformity(d), abs=0.02)


def test_uniformity_is_zero_when_every_embedding_is_the_same():
    assert uniformity(torch.ones(10, 8)) == pytest.approx(0.0, abs=1e-12)


@pytest.fixture(scope="module")
def eval_files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quality_data")
    sts = [row for _, row in zip(range(60), iter_jsonl(shared_data / "jglue" / "jsts_valid.json"))]
    passages = [row for _, row in zip(range(30), iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl"))]
    atomic_write_jsonl(root / "sts.jsonl", sts)
    atomic_write_jsonl(root / "passages.jsonl", passages)
    return {"sts": root / "sts.jsonl", "passages": root / "passages.jsonl", "n_high": sum(r["label"] >= 4 for r in sts)}


def test_pairs_below_the_minimum_score_are_skipped(eval_files):
    source = PairSource(
        key="q",
        path=str(eval_files["sts"]),
        anchor_field="sentence1",
        positive_field="sentence2",
        score_field="label",
        min_score=4.0,
        max_rows=1000,
    )
    assert 0 < len(source.pairs(seed=0)) == eval_files["n_high"] < 60


def test_a_missing_field_names_the_file_line_and_config_key(eval_files):
    source = TextSource(key="quality.random_texts", path=str(eval_files["passages"]), text_field="body")
    with pytest.raises(DataError, match=r"passages\.jsonl:1: no field 'body'.*quality\.random_texts"):
        source.texts(seed=0)


@pytest.fixture()
def one_thread():
    """Tests share two cores with others; one torch thread keeps them fast and predictable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_measure_quality_writes_alignment_uniformity_and_provenance(
    eval_files, tiny_tokenizer_dir, tmp_path, one_thread
):
    pretrained = save_tiny_pretrained("llama", tiny_tokenizer_dir, tmp_path / "pretrained")
    model = build_embedding_model(pretrained, tiny_arm("llama"), max_seq_length=64, normalize=False)
    model_dir = save_embedding_model(model, tmp_path / "embed" / "model")
    section = {
        "positive_pairs": {
            "path": str(eval_files["sts"]),
            "anchor_field": "sentence1",
            "positive_field": "sentence2",
            "score_field": "label",
            "min_score": 4.0,
            "max_rows": 1000,
        },
        "random_texts": {"path": str(eval_files["passages"]), "text_field": "text", "max_rows": 20},
        "batch_size": 8,
        "max_seq_length": 32,
    }
    out = tmp_path / "quality" / "llama" / "base.json"
    measure_quality(
        model_dir=model_dir,
        settings=QualitySettings.from_section(section, data_root="unused"),
        device=CPU,
        seed=0,
        labels={"arm": "llama", "family": "llama", "estage": "base"},
        out_json=out,
        fragment=section,
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["num_pairs"] == eval_files["n_high"] and result["num_texts"] == 20
    assert 0.0 <= result["alignment"] <= 4.0
    assert -4.0 <= result["uniformity"] <= 0.0
    assert result["estage"] == "base" and result["dtype"] == "float32"
    assert len(result["provenance"]["config_hash"]) == 16
