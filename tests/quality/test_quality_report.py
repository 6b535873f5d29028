"""Figure 2 from the quality stage's JSONs."""

from __future__ import annotations

from twinarch.core.io import atomic_write_json
from twinarch.quality.report import plot_fig2, read_quality


def test_figure_2_is_written_from_quality_jsons(tmp_path):
    paths = []
    for arm, estage, a, u in [
        ("encoder", "base", 0.9, -1.2),
        ("encoder", "ft", 0.4, -2.9),
        ("decoder", "base", 1.1, -0.5),
        ("decoder", "ft", 0.5, -2.6),
    ]:
        path = tmp_path / arm / f"{estage}.json"
        atomic_write_json(path, {"arm": arm, "seed": 0, "estage": estage, "alignment": a, "uniformity": u})
        paths.append(path)
    rows = read_quality(paths)
    assert len(rows) == 4
    out = plot_fig2(rows, tmp_path / "fig2", {"encoder": "Encoder", "decoder": "Decoder"})
    assert out[1].read_bytes()[:4] == b"\x89PNG" and all(p.stat().st_size > 5000 for p in out)
