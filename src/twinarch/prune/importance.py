"""How much each layer's MLP changes the residual stream: LLM-Drop's importance score.

For layer l, x is the residual stream entering the MLP branch (the input of its pre-norm: Llama's
`post_attention_layernorm`, ModernBERT's `mlp_norm`) and y = x + MLP(norm(x)) the layer's output.
The score is cos(x, y) per token in float32, averaged over every non-padding token of the
calibration texts; the MLPs with the highest similarity (least change) are dropped first. This is
LLM-Drop's `get_layer_similarities` with `layer_drop_norm=True` (CASE-Lab-UMD/LLM-Drop,
src/llmtuner/compression/prune/layer_drop.py: input of the pre-norm against input plus MLP output,
`F.cosine_similarity` in float32, mean over all tokens) and the metric EffiR reports as
1 - cos (Lei et al. 2025, arXiv 2512.20612, Section 3).

Why hooks and not the library's hidden states: `output_hidden_states` gives each layer's output y
but not the stream between attention and MLP, so x needs a forward pre-hook on the pre-norm. The
layer's own output (a forward hook on the layer) is y exactly, for both families. One forward pass
over the full model scores every layer at once: each layer sees the unpruned model's stream, as in
LLM-Drop's one-shot ("discrete") dropping. Padding is skipped with the attention mask, so padded
batches score like unpadded ones (LLM-Drop packs its calibration text and has no padding).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from twinarch.core.device import DeviceSettings
from twinarch.core.io import atomic_write_json
from twinarch.core.provenance import provenance
from twinarch.prune.config import Calibration
from twinarch.prune.model import dropped_mlp_layers, family_of, load_pruned_model

log = logging.getLogger(__name__)


class ResidualChange:
    """Hooks that sum, per layer, the cosine similarity of the stream before and after its MLP."""

    def __init__(self, network: Any) -> None:
        if dropped_mlp_layers(network):
            raise ValueError(
                f"importance is measured on an unpruned network; layers {dropped_mlp_layers(network)} lost their MLPs"
            )
        norm = family_of(network).mlp_norm
        count = len(network.layers)
        self.sums = torch.zeros(count, dtype=torch.float64)
        self.tokens = 0
        self.mask: torch.Tensor | None = None
        self._before: dict[int, torch.Tensor] = {}
        self._handles = []
        for index, layer in enumerate(network.layers):
            self._handles.append(getattr(layer, norm).register_forward_pre_hook(self._keep_input(index)))
            self._handles.append(layer.register_forward_hook(self._score_output(index)))

    def _keep_input(self, index: int) -> Any:
        def hook(_module: Any, args: tuple[Any, ...]) -> None:
            self._before[index] = args[0]

        return hook

    def _score_output(self, index: int) -> Any:
        def hook(_module: Any, _args: Any, output: torch.Tensor) -> None:
            cosine = F.cosine_similarity(self._before.pop(index).float(), output.float(), dim=-1)
            self.sums[index] += float((cosine * self.mask).sum())

        return hook

    def batch(self, mask: torch.Tensor) -> None:
        """The attention mask of the batch about to run (1 = a real token)."""
        self.mask = mask.float()
        self.tokens += int(mask.sum())

    def similarities(self) -> list[float]:
        return (self.sums / max(self.tokens, 1)).tolist()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@torch.inference_mode()
def mlp_similarities(model: Any, texts: Sequence[str], *, batch_size: int, max_length: int) -> tuple[list[float], int]:
    """Per layer, the mean cosine similarity of the stream before and after its MLP; and the tokens seen.

    The network is called directly on padded batches (not through sentence-transformers, which may
    unpad inputs for flash-attn), so the mask lines up with the hidden states.
    """
    network = model[0].auto_model
    tokenizer = model.tokenizer
    device = next(network.parameters()).device
    meter = ResidualChange(network)
    started = time.time()
    network.eval()
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            meter.batch(batch["attention_mask"].to(device))
            network(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
            done = min(start + batch_size, len(texts))
            log.info("calibration %d/%d texts, %.1f texts/s", done, len(texts), done / max(time.time() - started, 1e-9))
    finally:
        meter.remove()
    return meter.similarities(), meter.tokens


def drop_order(similarities: Sequence[float]) -> list[int]:
    """Layers in the order their MLPs are dropped: highest similarity first (ties: lower layer first)."""
    return sorted(range(len(similarities)), key=lambda i: (-similarities[i], i))


def rank_mlp_layers(
    *,
    model_dir: str | Path,
    calibration: Calibration,
    device: DeviceSettings,
    seed: int,
    labels: Mapping[str, str],
    out_json: str | Path,
    fragment: Any,
) -> dict[str, Any]:
    """Score every MLP of a saved embedding model on the calibration texts; writes `out_json`."""
    texts = calibration.sample(seed)
    model = load_pruned_model(model_dir, device=device.device, attn_implementation=device.attn_implementation)
    model = model.to(dtype=device.dtype)
    similarities, tokens = mlp_similarities(
        model, texts, batch_size=calibration.batch_size, max_length=calibration.max_length
    )
    result = {
        **labels,
        "model": str(model_dir),
        "num_layers": len(similarities),
        "similarity": similarities,
        "importance": [1.0 - s for s in similarities],
        "ranking": drop_order(similarities),
        "num_texts": len(texts),
        "num_tokens": tokens,
        "sources": [source.origin for source in calibration.texts],
        "max_length": calibration.max_length,
        **device.as_dict(),
        "provenance": provenance(fragment),
    }
    log.info("%s: MLPs in drop order %s", model_dir, result["ranking"])
    atomic_write_json(out_json, result)
    return result
