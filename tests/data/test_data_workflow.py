"""The demo's `data` target runs for real: synthetic data, the shared tokenizer, and every stage's
scattered shards gathered into a manifest that matches the files on disk."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml
from transformers import AutoTokenizer

from twinarch.core.io import read_json


@pytest.mark.slow
def test_demo_data_target_builds_tokenizer_and_shards(snakemake_run, repo_root):
    # an option after --config ends its values, so the target is not read as a config entry
    proc = snakemake_run("data", extra=["--show-failed-logs"])
    wd = proc.workdir
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    tokenizer_manifest = read_json(wd / "results" / "tokenizer" / "tokenizer_manifest.json")
    tok = AutoTokenizer.from_pretrained(str(wd / "results" / "tokenizer"))
    assert tokenizer_manifest["vocab_size"] == len(tok) == config["tokenizer"]["vocab_size"]
    assert (wd / "results" / "data" / "synthetic" / "synthetic_queries.jsonl").is_file()

    for stage in config["pretrain"]["stages"]:
        manifest = read_json(wd / "results" / "shards" / stage["name"] / "manifest.json")
        assert manifest["seq_len"] == stage["seq_len"]
        assert manifest["num_shards"] == len(manifest["shards"]) == config["shards"]["num_shards"]
        assert manifest["tokenizer_hash"] == tokenizer_manifest["tokenizer_hash"]
        for entry in [*manifest["shards"], manifest["validation"]]:
            path = wd / entry["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            array = np.load(path, mmap_mode="r")
            assert array.dtype == np.dtype(manifest["dtype"]) == np.uint16
            assert array.shape == (entry["blocks"], stage["seq_len"]) and entry["blocks"] > 0
            assert int(array.max()) < manifest["vocab_size"]
            assert (np.asarray(array) == manifest["eos_token_id"]).sum() > 0

    again = snakemake_run("data", extra=["-n", "--show-failed-logs"])
    assert "Nothing to be done" in again.stdout + again.stderr
