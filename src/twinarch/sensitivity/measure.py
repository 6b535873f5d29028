"""How much each input position moves a pooled sentence embedding: occlusion and integrated gradients.

The question comes from the RED study (Fu et al. 2023, arXiv:2304.04052: decoder-only LMs read as
regularised encoder-decoders): a causal model's dependence on its source fades as the sequence
grows ("attention degeneration").
The paper's section 5 explains the encoder's lead by the causal habits a decoder keeps after its
attention is switched to bidirectional; this stage measures that claim on every saved embedding
model and, for a decoder, on causal variants that need no training: the same weights with
`config.is_causal` left True, pooled by the last token and by the mean.

Both measures score the same function of a document `x` cut to `L` tokens, `f(x') = cos(e(x'),
e(x))` with `e(x)` held fixed, against one token id that is the same for every architecture:
- occlusion (captum's FeatureAblation): `f(x) - f(x with token j replaced)`, i.e. `1 - cos`, one
  forward pass per occluded position; tokens are replaced, never deleted (deleting shifts every
  later position, so a causal model's pooled token would read a different sequence at every j);
- integrated gradients (captum's LayerIntegratedGradients at the token-embedding layer) from the
  baseline with that id at every position; a position's attribution is the sum over the embedding
  dimension, and captum's convergence delta (sum of attributions minus `f(x) - f(baseline)`) is
  reported per document: completeness holds within it.

Padding never enters: every forward pass is a batch of copies of one document cut to one length,
the attention mask is all ones, and a batch holding the pad id is refused. The only hand-written
parts are that guard, the choice of occluded positions and the cut (no library does them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from captum.attr import FeatureAblation, LayerIntegratedGradients
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling

from twinarch.core.config import Arm, ConfigError
from twinarch.core.device import DeviceSettings
from twinarch.core.io import DataError, atomic_path, atomic_write_json, atomic_write_text
from twinarch.core.provenance import provenance
from twinarch.embed.model import attends_to_later_tokens, load_embedding_model, wants_bidirectional
from twinarch.sensitivity.config import (
    HEAD_TOKENS,
    INTEGRATED_GRADIENTS,
    MODEL_COLUMNS,
    OCCLUSION,
    SensitivitySettings,
)

log = logging.getLogger(__name__)

CAUSAL_POOLINGS = ("lasttoken", "mean")
DELTA_COLUMNS = ("document", "length", "n_steps", "similarity", "baseline_similarity", "attribution_sum", "delta")


@dataclass(frozen=True)
class Variant:
    """One network measured from a saved model: `saved` as the embed stage wrote it, or `causal`,
    a decoder's weights run with `config.is_causal` True under another pooling."""

    kind: str
    bidirectional: bool
    pooling: str

    @property
    def attention(self) -> str:
        return "bidirectional" if self.bidirectional else "causal"

    @property
    def label(self) -> str:
        return f"{self.kind}, {self.attention}, {self.pooling} pooling"


def model_variants(arm: Arm, saved_pooling: str) -> list[Variant]:
    """The saved model, then (decoders only) each causal pooling it is not already."""
    saved = Variant("saved", wants_bidirectional(arm), saved_pooling)
    if arm.is_encoder:
        return [saved]
    causal = [Variant("causal", False, pooling) for pooling in CAUSAL_POOLINGS]
    return [saved, *(v for v in causal if (v.bidirectional, v.pooling) != (saved.bidirectional, saved.pooling))]


def pooling_index(model: SentenceTransformer) -> int:
    for index, module in enumerate(model):
        if isinstance(module, Pooling):
            return index
    raise ValueError(f"{model}: no Pooling module")


def saved_pooling(model: SentenceTransformer) -> str:
    mode = model[pooling_index(model)].pooling_mode
    if not isinstance(mode, str):
        raise ValueError(f"a single pooling mode is needed to measure sensitivity, got {mode}")
    return mode


def load_saved(model_dir: str | Path, device: str) -> SentenceTransformer:
    """The saved model in float32 and SDPA: attributions need full precision and a backward pass."""
    return load_embedding_model(model_dir, device=device, attn_implementation="sdpa").float().eval()


def load_causal(model_dir: str | Path, pooling: str, device: str) -> SentenceTransformer:
    """A decoder's causal variant, built in memory (never saved): `config.is_causal` True, new pooling."""
    model = load_saved(model_dir, device)
    model[0].auto_model.config.is_causal = True
    model[pooling_index(model)] = Pooling(model[0].get_embedding_dimension(), pooling_mode=pooling)
    return model.to(device)


def check_attention(model: SentenceTransformer, variant: Variant, name: str) -> None:
    """The forward probe of the embed stage: stop when the network's direction is not the variant's."""
    if attends_to_later_tokens(model) != variant.bidirectional:
        is_causal = getattr(model[0].auto_model.config, "is_causal", None)
        raise RuntimeError(
            f"{name} ({variant.label}): meant to be {variant.attention}, but changing the last token "
            f"{'leaves' if variant.bidirectional else 'changes'} the first token's hidden state "
            f"(config.is_causal={is_causal}); refusing to measure it"
        )
    log.info("%s (%s): the probe finds it %s", name, variant.label, variant.attention)


def occlusion_token_id(tokenizer: Any, token: str) -> int:
    """The id of `token`: a special-token attribute (`unk_token`) or a token of the vocabulary.

    The default, unk, is the same id for every arm (one shared tokenizer) and carries no content:
    the byte-level tokenizer never emits it for text. The mask token would favour the encoder (MLM
    taught it to mean "a token is missing here"; the decoder never saw it), an ordinary token brings
    its own meaning, and pad is refused (see `embed`). One asymmetry remains and is the models':
    ModernBERT ties its MLM head to the input embeddings, so unk's row is trained as a never-seen
    output, while Llama's untied row keeps its initialisation (shrunk by weight decay).
    """
    value = getattr(tokenizer, token) if token in tokenizer.SPECIAL_TOKENS_ATTRIBUTES else token
    if value is None:
        raise ConfigError(f"config key 'sensitivity.occlusion_token': the tokenizer has no {token}")
    token_id = tokenizer.convert_tokens_to_ids(value)
    if token_id is None or (token_id == tokenizer.unk_token_id and value != tokenizer.unk_token):
        raise ConfigError(f"config key 'sensitivity.occlusion_token': '{value}' is not in the tokenizer's vocabulary")
    if token_id == tokenizer.pad_token_id:
        raise ConfigError(
            "config key 'sensitivity.occlusion_token': the pad token is refused (a batch holding it would be "
            "indistinguishable from a padded one); use unk_token or an ordinary token"
        )
    return int(token_id)


def cut_documents(tokenizer: Any, texts: Sequence[str], length: int) -> list[tuple[int, torch.Tensor]]:
    """(index, first `length` tokens) of every text at least `length` tokens long; shorter ones are
    skipped, never padded. Special-token strings inside a text stay text (`split_special_tokens`)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=length, split_special_tokens=True)["input_ids"]
    return [(index, torch.tensor(ids)) for index, ids in enumerate(encoded) if len(ids) == length]


def embed(model: SentenceTransformer, input_ids: torch.Tensor) -> torch.Tensor:
    """Pooled embeddings of a [batch, length] id tensor, attention mask all ones."""
    pad = model[0].tokenizer.pad_token_id
    if pad is not None and bool((input_ids == pad).any()):
        raise ValueError(f"input holds the pad id {pad}: padding never enters a sensitivity measurement")
    device = next(model.parameters()).device
    input_ids = input_ids.to(device)
    return model({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)})["sentence_embedding"]


def similarity_to(model: SentenceTransformer, ids: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(batch) = cosine of each row's embedding with e(ids), which is held fixed (no gradient)."""
    with torch.no_grad():
        reference = embed(model, ids[None])

    def similarity(batch: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(embed(model, batch), reference, dim=-1)

    return similarity


def occluded_positions(length: int, max_positions: int) -> tuple[list[int], float]:
    """Positions to occlude and the number of positions each non-head one stands for.

    Occlusion costs one forward pass per position; above `max_positions` the head is kept whole and
    the rest is sampled evenly, the last position included (a last-token pooled model reads it).
    """
    if length <= max_positions:
        return list(range(length)), 1.0
    rest = np.unique(np.linspace(HEAD_TOKENS, length - 1, max_positions - HEAD_TOKENS).round().astype(int))
    return [*range(HEAD_TOKENS), *rest.tolist()], (length - HEAD_TOKENS) / len(rest)


def occlusion(
    model: SentenceTransformer, ids: torch.Tensor, token_id: int, positions: Sequence[int], batch_size: int
) -> torch.Tensor:
    """1 - cos(e(x), e(x with token j replaced by `token_id`)) for each j of `positions`."""
    similarity = similarity_to(model, ids)
    index = torch.tensor(list(positions))

    def at_positions(tokens: torch.Tensor) -> torch.Tensor:
        # FeatureAblation replaces entries of its input; its input is the tokens at `positions` only.
        full = ids.expand(tokens.shape[0], -1).clone()
        full[:, index] = tokens
        return similarity(full)

    with torch.no_grad():
        scores = FeatureAblation(at_positions).attribute(
            ids[index][None], baselines=token_id, perturbations_per_eval=batch_size
        )
    return scores[0].float().cpu()


@dataclass(frozen=True)
class Attribution:
    per_position: torch.Tensor
    delta: float
    similarity: float
    baseline_similarity: float


def integrated_gradients(
    model: SentenceTransformer, ids: torch.Tensor, token_id: int, n_steps: int, batch_size: int
) -> Attribution:
    """Integrated gradients of f at the token-embedding layer, from the all-`token_id` baseline."""
    similarity = similarity_to(model, ids)
    inputs, baseline = ids[None], torch.full_like(ids[None], token_id)
    layer = model[0].auto_model.get_input_embeddings()
    attributions, delta = LayerIntegratedGradients(similarity, layer).attribute(
        inputs, baselines=baseline, n_steps=n_steps, internal_batch_size=batch_size, return_convergence_delta=True
    )
    with torch.no_grad():
        f_x, f_baseline = float(similarity(inputs)), float(similarity(baseline))
    return Attribution(attributions[0].sum(dim=-1).detach().float().cpu(), float(delta), f_x, f_baseline)


def position_rows(
    labels: Mapping[str, Any],
    measure: str,
    document: int,
    length: int,
    positions: Sequence[int],
    values: torch.Tensor,
    weights: Sequence[float],
) -> pd.DataFrame:
    """Tidy rows of one (document, length, measure); `weight` is how many positions a row stands for."""
    return pd.DataFrame(
        {
            **{column: labels[column] for column in MODEL_COLUMNS},
            "document": document,
            "length": length,
            "position": list(positions),
            "measure": measure,
            "value": values.numpy().astype(float),
            "weight": list(weights),
        }
    )


def measure_variant(
    model: SentenceTransformer,
    labels: Mapping[str, Any],
    texts: Sequence[str],
    token_id: int,
    settings: SensitivitySettings,
) -> tuple[list[pd.DataFrame], list[dict[str, Any]], dict[int, int]]:
    """Every document at every length for one network: position frames, delta rows, documents per length."""
    frames, deltas, counts = [], [], {}
    for length in settings.lengths:
        documents = cut_documents(model[0].tokenizer, texts, length)
        counts[length] = len(documents)
        positions, weight = occluded_positions(length, settings.max_occluded_positions)
        weights = [1.0 if p < HEAD_TOKENS else weight for p in positions]
        start = time.perf_counter()
        for document, ids in documents:
            occluded = occlusion(model, ids, token_id, positions, settings.batch_size)
            frames.append(position_rows(labels, OCCLUSION, document, length, positions, occluded, weights))
            ig = integrated_gradients(model, ids, token_id, settings.n_steps, settings.batch_size)
            frames.append(
                position_rows(
                    labels, INTEGRATED_GRADIENTS, document, length, range(length), ig.per_position, [1.0] * length
                )
            )
            deltas.append(
                {
                    **{column: labels[column] for column in MODEL_COLUMNS},
                    "document": document,
                    "length": length,
                    "n_steps": settings.n_steps,
                    "similarity": ig.similarity,
                    "baseline_similarity": ig.baseline_similarity,
                    "attribution_sum": float(ig.per_position.sum()),
                    "delta": ig.delta,
                }
            )
        seconds = time.perf_counter() - start
        # Token positions pushed through the network; a backward pass counts as two forward ones.
        passes = len(documents) * length * (len(positions) + 2 + 3 * settings.n_steps)
        log.info(
            "%s %s (%s, %s pooling), L=%d: %d documents in %.1f s (%.0f token passes/s)",
            labels["model"],
            labels["stage"],
            labels["attention"],
            labels["pooling"],
            length,
            len(documents),
            seconds,
            passes / max(seconds, 1e-9),
        )
    return frames, deltas, counts


def measure_sensitivity(
    *,
    model_dir: str | Path,
    arm: Arm,
    settings: SensitivitySettings,
    device: DeviceSettings,
    seed: int,
    labels: Mapping[str, str],
    out_positions: str | Path,
    out_deltas: str | Path,
    out_manifest: str | Path,
    fragment: Any,
) -> dict[str, Any]:
    """Probe, then measure, every variant of one saved embedding model; writes the position table
    (Parquet), the per-document IG delta table (CSV) and a manifest, each atomically."""
    texts = settings.documents.texts(seed)[: settings.num_documents]
    saved = load_saved(model_dir, device.device)
    token_id = occlusion_token_id(saved[0].tokenizer, settings.occlusion_token)
    if not cut_documents(saved[0].tokenizer, texts, min(settings.lengths)):
        raise DataError(
            f"{settings.documents.origin}: none of the {len(texts)} documents reaches {min(settings.lengths)} tokens "
            "(config key 'sensitivity.lengths')"
        )
    variants = model_variants(arm, saved_pooling(saved))
    models = [saved if v.kind == "saved" else load_causal(model_dir, v.pooling, device.device) for v in variants]
    positions_limit = getattr(saved[0].auto_model.config, "max_position_embeddings", None)
    if positions_limit is not None and max(settings.lengths) > positions_limit:
        raise ConfigError(
            f"config key 'sensitivity.lengths': {max(settings.lengths)} exceeds the {positions_limit} positions of "
            f"{model_dir}"
        )
    for variant, model in zip(variants, models):
        check_attention(model, variant, str(model_dir))
    frames, deltas, summaries = [], [], []
    for variant, model in zip(variants, models):
        start = time.perf_counter()
        variant_labels = {**labels, "variant": variant.kind, "attention": variant.attention, "pooling": variant.pooling}
        variant_frames, variant_deltas, counts = measure_variant(model, variant_labels, texts, token_id, settings)
        frames += variant_frames
        deltas += variant_deltas
        summaries.append({"label": variant.label, "seconds": round(time.perf_counter() - start, 2)})
    table = pd.concat(frames, ignore_index=True)
    delta_table = pd.DataFrame(deltas, columns=[*MODEL_COLUMNS, *DELTA_COLUMNS])
    with atomic_path(out_positions) as tmp:
        table.to_parquet(tmp, index=False)
    atomic_write_text(out_deltas, delta_table.to_csv(index=False))
    manifest = {
        **labels,
        "model_dir": str(model_dir),
        "variants": summaries,
        "occlusion_token": settings.occlusion_token,
        "occlusion_token_id": token_id,
        "documents": {"source": settings.documents.origin, "requested": len(texts), "per_length": counts},
        "n_steps": settings.n_steps,
        "batch_size": settings.batch_size,
        "max_occluded_positions": settings.max_occluded_positions,
        "max_abs_delta": float(delta_table["delta"].abs().max()) if len(delta_table) else None,
        **device.as_dict(),
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "provenance": provenance(fragment),
    }
    atomic_write_json(out_manifest, manifest)
    return manifest
