"""The unigram reference beside pretraining losses: known frequencies give the known cross-entropy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from twinarch.core.io import DataError
from twinarch.pretrain.unigram import loss_table, unigram_cross_entropy


def shards(tmp_path, train_rows, validation_rows, vocab=4):
    for name, rows in (("part_1.npy", train_rows), ("validation.npy", validation_rows)):
        np.save(tmp_path / name, np.asarray(rows, dtype=np.uint16))
    manifest = {
        "stage": "stage1",
        "vocab_size": vocab,
        "shards": [{"path": str(tmp_path / "part_1.npy")}],
        "validation": {"path": str(tmp_path / "validation.npy")},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_the_reference_is_the_smoothed_unigram_cross_entropy_of_the_evaluated_blocks(tmp_path):
    # Training counts 0:5, 1:1, 2:2, 3:0 (8 tokens); add-one over 4 ids: 6/12, 2/12, 3/12, 1/12.
    manifest = shards(tmp_path, [[0, 0, 0, 1], [0, 0, 2, 2]], [[0, 3], [1, 2], [3, 3]])
    result = unigram_cross_entropy(manifest, max_blocks=2)  # the third validation block is not evaluated
    expected = -(math.log(6 / 12) + math.log(1 / 12) + math.log(2 / 12) + math.log(3 / 12)) / 4
    assert result["unigram_nats"] == pytest.approx(expected)
    assert result["uniform_nats"] == pytest.approx(math.log(4))
    assert result["train_tokens"] == 8 and result["validation_tokens"] == 4


def test_a_token_id_outside_the_vocabulary_names_the_shard(tmp_path):
    manifest = shards(tmp_path, [[0, 7]], [[0, 1]])
    with pytest.raises(DataError, match=r"part_1.npy: token id 7 outside the vocabulary of 4"):
        unigram_cross_entropy(manifest, max_blocks=8)


def test_the_table_averages_seeds_and_sets_each_loss_beside_its_stages_reference(tmp_path):
    manifests = {}
    for seed, loss in ((0, 3.0), (1, 4.0)):
        path = tmp_path / f"m{seed}.json"
        path.write_text(json.dumps({"final_val_loss": loss, "tokens_seen": 2_000_000}), encoding="utf-8")
        manifests[("decoder", str(seed), "stage1")] = path
    arms = [{"name": "decoder", "display_name": "Llama", "objective": "clm"}]
    table = loss_table(manifests, {"stage1": {"unigram_nats": 5.0, "uniform_nats": 8.0}}, arms, ["stage1", "stage2"])
    assert len(table) == 1  # no runs of stage2: no row
    row = table.iloc[0]
    assert row["Seeds"] == 2 and row["Val. loss"] == 3.5 and row["Unigram - loss"] == 1.5
    assert row["Seed s.d."] == pytest.approx(math.sqrt(0.5)) and row["Tokens seen (M)"] == 2.0
