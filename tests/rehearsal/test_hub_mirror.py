"""twinarch.core.hub on its own: which names the mirror answers for, and how the config key reaches
jobs (the rehearsal, tests/study/test_rehearsal.py, runs it through every loader)."""

from __future__ import annotations

import os

import pytest

from twinarch.core import hub


@pytest.fixture()
def mirror(tmp_path, monkeypatch):
    (tmp_path / "org" / "copied").mkdir(parents=True)
    monkeypatch.setenv(hub.MIRROR_ENV, str(tmp_path))
    return tmp_path


def test_a_hub_id_with_a_copy_reads_the_copy(mirror):
    assert hub.resolve("org/copied") == str(mirror / "org" / "copied")


def test_ids_without_a_copy_and_paths_stay_as_they_are(mirror, tmp_path):
    assert hub.resolve("org/not-copied") == "org/not-copied"
    assert hub.resolve("results/pretrain/encoder/seed_0/stage2/model") == "results/pretrain/encoder/seed_0/stage2/model"
    local = tmp_path / "org" / "copied"
    assert hub.resolve(str(local)) == str(local)


def test_without_a_mirror_every_name_is_the_hubs(monkeypatch):
    monkeypatch.delenv(hub.MIRROR_ENV, raising=False)
    assert hub.resolve("org/copied") == "org/copied"


def test_the_config_key_is_exported_absolute_and_a_null_one_clears_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(hub.MIRROR_ENV, "/somewhere/else")
    hub.export_hub_mirror({"hub_mirror": "{data_root}/hub", "data_root": "data"})
    assert os.environ[hub.MIRROR_ENV] == str(tmp_path / "data" / "hub")
    hub.export_hub_mirror({"hub_mirror": None})
    assert hub.MIRROR_ENV not in os.environ


def test_a_benchmark_task_reads_only_its_data_from_the_mirror(tmp_path, monkeypatch):
    from twinarch.evaluate.scoring import resolve_task

    (tmp_path / "mteb" / "JSTS").mkdir(parents=True)
    monkeypatch.setenv(hub.MIRROR_ENV, str(tmp_path))
    task = resolve_task({"name": "JSTS", "benchmark": "JMTEB(v2)", "split": "test"}, seed=0)
    assert task.metadata.dataset["path"] == str(tmp_path / "mteb" / "JSTS")
    assert task.metadata.dataset["revision"] and task.metadata.name == "JSTS" and task.eval_splits == ["validation"]
    import mteb

    shared = next(t for t in mteb.get_benchmark("JMTEB(v2)").tasks if t.metadata.name == "JSTS")
    assert shared.metadata.dataset["path"] != task.metadata.dataset["path"]  # mteb's own object is untouched
