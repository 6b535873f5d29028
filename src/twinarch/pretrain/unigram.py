"""The context-free reference for pretraining losses: the validation tokens' cross-entropy under the
training shards' unigram distribution, beside each arm's final validation loss.

A model whose validation loss is not below this reference has learnt which tokens are frequent and
nothing about context; below it, pretraining has taught the network something the contrastive stages
can build on. The reference suits both objectives: a context-free MLM predicts a masked token, and a
context-free CLM the next one, from the same frequencies. Counting token ids is a `np.bincount`;
no library computes this reference from packed shards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twinarch.core.io import DataError, read_json
from twinarch.data.shards import read_shard

if TYPE_CHECKING:
    import pandas as pd


def unigram_cross_entropy(shards_manifest: str | Path, max_blocks: int) -> dict[str, Any]:
    """Cross-entropy (nats per token) of the first `max_blocks` validation blocks (those the
    pretraining evaluates on) under the training shards' token frequencies, add-one smoothed so that
    a token unseen in training has a finite cost; with log(vocabulary), the uniform guess, beside it."""
    manifest = read_json(shards_manifest)
    vocab = int(manifest["vocab_size"])
    counts = np.zeros(vocab, dtype=np.int64)
    for shard in manifest["shards"]:
        ids = np.asarray(read_shard(shard["path"])).ravel()
        if ids.size and int(ids.max()) >= vocab:
            raise DataError(f"{shard['path']}: token id {int(ids.max())} outside the vocabulary of {vocab}")
        counts += np.bincount(ids, minlength=vocab)
    validation = np.asarray(read_shard(manifest["validation"]["path"]))[:max_blocks].ravel()
    if validation.size == 0:
        raise DataError(f"{manifest['validation']['path']}: the validation shard holds no tokens")
    if int(validation.max()) >= vocab:
        raise DataError(f"{manifest['validation']['path']}: token id outside the vocabulary of {vocab}")
    probs = (counts + 1) / (counts.sum() + vocab)
    return {
        "stage": manifest["stage"],
        "vocab_size": vocab,
        "train_tokens": int(counts.sum()),
        "validation_tokens": int(validation.size),
        "unigram_nats": float(-np.log(probs[validation]).mean()),
        "uniform_nats": math.log(vocab),
    }


def loss_table(
    manifests: Mapping[tuple[str, str, str], str | Path],
    references: Mapping[str, Mapping[str, Any]],
    arms: Sequence[Mapping[str, str]],
    stages: Sequence[str],
) -> pd.DataFrame:
    """One row per (arm, stage): tokens seen, the final validation loss (mean and standard deviation
    over replicate seeds), the stage's unigram reference and the gap between them.
    `manifests[(arm, seed, stage)]` is a pretraining manifest.json."""
    import pandas as pd

    rows = []
    for arm in arms:
        for stage in stages:
            runs = [read_json(p) for (name, _, s), p in sorted(manifests.items()) if name == arm["name"] and s == stage]
            if not runs:
                continue
            losses = [r["final_val_loss"] for r in runs]
            if any(loss is None for loss in losses):
                raise DataError(f"pretraining of {arm['name']}/{stage}: a run has no validation loss")
            mean = float(np.mean(losses))
            reference = references[stage]
            rows.append(
                {
                    "Model": arm["display_name"],
                    "Objective": arm["objective"].upper(),
                    "Stage": stage,
                    "Seeds": len(runs),
                    "Tokens seen (M)": float(np.mean([r["tokens_seen"] for r in runs])) / 1e6,
                    "Val. loss": mean,
                    "Seed s.d.": float(np.std(losses, ddof=1)) if len(losses) > 1 else float("nan"),
                    "Unigram": reference["unigram_nats"],
                    "log V": reference["uniform_nats"],
                    "Unigram - loss": reference["unigram_nats"] - mean,
                }
            )
    return pd.DataFrame(rows)
