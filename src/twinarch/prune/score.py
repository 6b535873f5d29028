"""Scoring a pruned model on every task: the evaluation stage's own job, on a pruned directory.

`twinarch.evaluate.scoring.evaluate_model` loads the model with `SentenceTransformer(path)`, which
reads a pruned directory once the pruned architectures are registered; the tidy rows (and per-example
scores) it writes are Table 1's, their `stage` the pruned model's label
(`twinarch.prune.config.pruned_stage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twinarch.evaluate.scoring import evaluate_model
from twinarch.prune.model import register_pruned_architectures


def score_pruned_model(model_dir: str | Path, row_paths: Sequence[str | Path], **kwargs: Any) -> list[dict[str, Any]]:
    """`evaluate_model(model_dir, row_paths, **kwargs)` with the pruned architectures known."""
    register_pruned_architectures()
    return evaluate_model(model_dir, row_paths, **kwargs)
