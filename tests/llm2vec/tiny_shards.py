"""Where the LLM2Vec tests' workflow root (conftest.py) puts its inputs, and the probe every test
of a saved step uses."""

from __future__ import annotations

from pathlib import Path

STAGE = "s1"
SEQ_LEN = 64
INIT = f"results/pretrain/decoder/{STAGE}/model"


def is_bidirectional(model_dir: str | Path) -> bool:
    """Reload a saved network as the embed stage does, without switching anything on, and probe it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from twinarch.embed.model import attends_to_later_tokens

    transformer = Transformer(str(model_dir))
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")
    return attends_to_later_tokens(model)
