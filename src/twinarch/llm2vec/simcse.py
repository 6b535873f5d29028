"""Unsupervised SimCSE, LLM2Vec's third step: the sentences it trains on and the dropout it needs.

LLM2Vec trains on Wiki1M, a million Wikipedia sentences, each paired with itself. Ours come from
the pretraining corpora (`config.corpora` entries, read by twinarch.data.sources with their
holdouts and evaluation-text exclusions, so SimCSE sees no text that the encoder-decoder comparison
kept out of training), cut into sentences by the same splitter the decontamination index uses. The
corpora rather than the token shards: the shards' blocks cut documents, and so sentences, at
arbitrary token boundaries, and decoding them back would feed SimCSE fragments.

The two views of a sentence differ only by dropout. Llama has no hidden dropout, only attention
dropout, which each attention module copies from the config when it is built; so a loaded model gets
the rate set on its modules too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from typing import Any

from twinarch.core.containment import sentences
from twinarch.core.io import DataError
from twinarch.data.sources import build_sources, interleave_documents

log = logging.getLogger(__name__)


def corpus_sentences(
    specs: Mapping[str, Mapping[str, Any]], max_sentences: int, min_chars: int, seed: int
) -> list[str]:
    """Up to `max_sentences` distinct sentences of at least `min_chars` characters, reading one
    document of each corpus in turn, in a seeded random order. Distinct, because a repeated sentence
    would be its own in-batch negative."""
    found: dict[str, None] = {}
    documents = 0
    for doc in interleave_documents(build_sources(specs)):
        documents += 1
        for sentence in sentences(doc.text):
            if len(sentence) >= min_chars:
                found.setdefault(sentence)
        if len(found) >= max_sentences:
            break
    if not found:
        raise DataError(f"corpora {sorted(specs)} hold no sentence of at least {min_chars} characters")
    chosen = list(found)[:max_sentences]
    random.Random(seed).shuffle(chosen)
    log.info("SimCSE: %d distinct sentences from %d documents of corpora %s", len(chosen), documents, sorted(specs))
    return chosen


def set_attention_dropout(network: Any, rate: float) -> None:
    """Attention dropout of a loaded network (its config and every attention module)."""
    network.config.attention_dropout = rate
    for module in network.modules():
        if hasattr(module, "attention_dropout"):
            module.attention_dropout = rate
