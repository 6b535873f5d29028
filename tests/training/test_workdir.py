"""The shared work directory of every trainer: complete checkpoints only, and only a run's own."""

from __future__ import annotations

import json
import logging

from twinarch.training.workdir import (
    claim_work_dir,
    content_digest,
    fingerprint_changes,
    last_complete_checkpoint,
    run_fingerprint,
)


def test_resuming_skips_a_checkpoint_whose_writing_was_interrupted(tmp_path):
    for step, state in [(10, "{}"), (20, "{}"), (30, '{"log_hi'), (40, None)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state, encoding="utf-8")
    (tmp_path / "checkpoint-99.tmp").mkdir()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")
    assert last_complete_checkpoint(tmp_path / "missing") is None


def model_dir(path, weights: bytes = b"weights"):
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.safetensors").write_bytes(weights)
    (path / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    return path


def test_content_digest_follows_weights_and_configs_not_cards_or_manifests(tmp_path):
    model = model_dir(tmp_path / "model")
    before = content_digest(model)
    (model / "README.md").write_text("trained on 2026-12-01", encoding="utf-8")
    (model / "training_args.bin").write_bytes(b"pickled paths and timestamps")
    (model / "tokenizer_manifest.json").write_text('{"provenance": {"git_commit": "abc"}}', encoding="utf-8")
    assert content_digest(model) == before
    (model / "model.safetensors").write_bytes(b"other weights")
    assert content_digest(model) != before
    assert content_digest("sbintuitions/sarashina2.2-0.5b") == "id:sbintuitions/sarashina2.2-0.5b"
    assert content_digest(None) is None


def fill(work, steps=(10, 20)):
    for step in steps:
        (work / f"checkpoint-{step}").mkdir(parents=True)
        (work / f"checkpoint-{step}" / "trainer_state.json").write_text("{}", encoding="utf-8")


def test_a_work_dir_keeps_only_its_own_runs_checkpoints(tmp_path, caplog):
    init = model_dir(tmp_path / "init")
    work = tmp_path / "work"
    first = run_fingerprint({"learning_rate": 1e-3}, {"init_model": str(init)})
    claim_work_dir(work, first)
    fill(work)
    claim_work_dir(work, run_fingerprint({"learning_rate": 1e-3}, {"init_model": str(init)}))
    assert last_complete_checkpoint(work) == str(work / "checkpoint-20")  # same run: resumes

    with caplog.at_level(logging.WARNING):
        claim_work_dir(work, run_fingerprint({"learning_rate": 2e-3}, {"init_model": str(init)}))
    assert last_complete_checkpoint(work) is None  # other settings: starts afresh
    assert "the training settings changed" in caplog.text

    fill(work)
    (init / "model.safetensors").write_bytes(b"retrained underneath")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        claim_work_dir(work, run_fingerprint({"learning_rate": 2e-3}, {"init_model": str(init)}))
    assert last_complete_checkpoint(work) is None  # another starting model: starts afresh
    assert "input 'init_model' changed" in caplog.text
    assert json.loads((work / "run.json").read_text(encoding="utf-8"))["inputs"]["init_model"] == content_digest(init)


def test_checkpoints_without_a_fingerprint_are_never_resumed(tmp_path):
    work = tmp_path / "work"
    fill(work)
    claim_work_dir(work, run_fingerprint({}, {}))
    assert last_complete_checkpoint(work) is None


def test_fingerprint_changes_name_every_part_that_differs():
    old = {"config": "a", "inputs": {"data": "1", "init_model": "2"}}
    new = {"config": "b", "inputs": {"data": "1", "init_model": "3"}}
    assert fingerprint_changes(old, new) == ["the training settings", "input 'init_model'"]
