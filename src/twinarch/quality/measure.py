"""Alignment and uniformity of an embedding space (Wang and Isola, ICML 2020).

Alignment is the mean squared distance between the normalised embeddings of positive pairs (lower:
paraphrases sit closer); uniformity is the log of the mean Gaussian potential exp(-2 d^2) over pairs
of random texts (lower: embeddings spread over the sphere). The two formulas are a few lines of
torch because no installed library provides them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from twinarch.core.device import DeviceSettings
from twinarch.core.io import atomic_write_json
from twinarch.core.provenance import provenance
from twinarch.embed.model import load_embedding_model
from twinarch.quality.config import QualitySettings

log = logging.getLogger(__name__)

UNIFORMITY_T = 2.0


def alignment(x: torch.Tensor, y: torch.Tensor) -> float:
    """E ||f(x) - f(y)||^2 over positive pairs, rows of `x` and `y`, after L2 normalisation."""
    x, y = F.normalize(x.double(), dim=-1), F.normalize(y.double(), dim=-1)
    return float((x - y).pow(2).sum(dim=-1).mean())


def uniformity(x: torch.Tensor, t: float = UNIFORMITY_T) -> float:
    """log E exp(-t ||f(a) - f(b)||^2) over all unordered pairs a != b of rows of `x`, normalised."""
    if x.shape[0] < 2:
        raise ValueError("uniformity needs at least two embeddings")
    x = F.normalize(x.double(), dim=-1)
    # logsumexp keeps the mean of tiny exponentials exact for well-spread spaces.
    sq = torch.pdist(x, p=2).pow(2)
    return float(torch.logsumexp(-t * sq, dim=0) - torch.log(torch.tensor(float(sq.numel()), dtype=sq.dtype)))


def embed(model: Any, texts: Sequence[str], batch_size: int) -> torch.Tensor:
    return (
        model.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=True).float().cpu()
    )


def measure_quality(
    *,
    model_dir: str | Path,
    settings: QualitySettings,
    device: DeviceSettings,
    seed: int,
    labels: Mapping[str, str],
    out_json: str | Path,
    fragment: Any,
) -> dict[str, Any]:
    """Alignment and uniformity of one saved SentenceTransformer; writes `out_json` atomically."""
    pairs = settings.positive_pairs.pairs(seed)
    texts = settings.random_texts.texts(seed)
    model = load_embedding_model(model_dir, device=device.device).to(dtype=device.dtype)
    model.max_seq_length = settings.max_seq_length
    anchors = embed(model, [a for a, _ in pairs], settings.batch_size)
    positives = embed(model, [p for _, p in pairs], settings.batch_size)
    spread = embed(model, texts, settings.batch_size)
    result = {
        **labels,
        "alignment": alignment(anchors, positives),
        "uniformity": uniformity(spread),
        "num_pairs": len(pairs),
        "num_texts": len(texts),
        "pairs_source": settings.positive_pairs.origin,
        "texts_source": settings.random_texts.origin,
        "max_seq_length": settings.max_seq_length,
        **device.as_dict(),
        "provenance": provenance(fragment),
    }
    log.info("%s: alignment %.4f, uniformity %.4f", model_dir, result["alignment"], result["uniformity"])
    atomic_write_json(out_json, result)
    return result
