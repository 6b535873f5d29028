"""Fixtures of the prune tests: the tiny four-layer embedding models of prune_models.py, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from prune_models import save_embedding_models


@pytest.fixture(scope="session")
def embedding_dirs(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_embedding_models(tiny_tokenizer_dir, tmp_path_factory.mktemp("prune_models"))
