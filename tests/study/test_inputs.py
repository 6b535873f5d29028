"""The input checks cover the extension studies' own files: a pruning study's calibration texts
and recovery datasets and the sensitivity study's documents are checked at parse time, naming
the config key, like the paper's inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinarch.core.config import load_config
from twinarch.core.io import DataError
from twinarch.study.inputs import check_headers, input_checks


@pytest.fixture()
def demo(repo_root: Path, shared_data: Path) -> dict:
    config = load_config(repo_root / "config" / "config.yaml")
    config["data_root"] = str(shared_data)
    return config


def test_the_demo_inputs_pass_and_a_local_calibration_file_is_listed(demo, shared_data):
    check_headers(demo)  # the demo's study inputs are the workflow's own synthetic data: not checked
    assert not [c for c in input_checks(demo) if c.key.startswith(("prune.", "sensitivity."))]
    passages = shared_data / "jaquad" / "jaquad_dev_passages.jsonl"
    demo["prune"]["calibration"]["texts"][0] = {"path": str(passages), "text_field": "text", "max_rows": 4}
    check_headers(demo)
    (check,) = [c for c in input_checks(demo) if c.key == "prune.calibration.texts[0]"]
    assert check.files == (str(passages),) and check.full() == 4


def test_a_missing_calibration_file_names_its_key(demo, tmp_path):
    missing = tmp_path / "calibration.jsonl"
    demo["prune"]["calibration"]["texts"][0] = {"path": str(missing), "text_field": "text", "max_rows": 4}
    with pytest.raises(DataError, match=rf"{missing}: file not found \(config key 'prune.calibration.texts\[0\]'\)"):
        check_headers(demo)


def test_a_recovery_dataset_without_its_column_names_its_key(demo, tmp_path):
    triplets = tmp_path / "triplets.jsonl"
    triplets.write_text('{"question": "q", "positive": "p"}\n', encoding="utf-8")
    demo["prune"]["recovery"]["datasets"] = {
        "local": {
            "type": "jsonl",
            "path": str(triplets),
            "columns": {"anchor": "question", "positive": "positive", "hard_negatives": "negatives"},
        }
    }
    with pytest.raises(DataError, match=r"prune\.recovery\.datasets\.local.*negatives"):
        check_headers(demo)


def test_sensitivity_documents_on_disk_are_checked(demo, tmp_path):
    missing = tmp_path / "news.jsonl"
    demo["sensitivity"]["documents"] = {"path": str(missing), "text_field": "body", "max_rows": 50}
    with pytest.raises(DataError, match=r"config key 'sensitivity.documents'"):
        check_headers(demo)
