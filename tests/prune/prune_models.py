"""Tiny embedding models with four layers (so that rankings and k-sweeps have room), both families."""

from __future__ import annotations

from pathlib import Path

import torch
from tiny_models import save_tiny_pretrained, tiny_arm
from transformers import AutoConfig, AutoModel

from twinarch.embed.model import build_embedding_model, save_embedding_model

LAYERS = 4
TEXTS = [
    "東京は日本の首都であり、多くの人が住んでいる。",
    "猫が窓辺で眠っている。",
    "大阪の名物は何ですか。",
    "富士山は日本で最も高い山で、標高は三千七百メートルを超える。",
    "明日の天気は晴れのち曇りでしょう。",
    "図書館で本を借りた。",
]
# (family, bidirectional): the encoder, a bidirectional decoder and a causal one.
ARMS = [("modernbert", True), ("llama", True), ("llama", False)]
ARM_IDS = ["modernbert", "llama-bi", "llama-causal"]


def save_deeper_pretrained(family: str, tokenizer_dir: Path, out_dir: Path) -> Path:
    """The suite's tiny pretrained model of `family`, rebuilt with LAYERS layers and random weights
    large enough that every MLP visibly changes the residual stream, as a trained model's do (at the
    default scale a random ModernBERT's MLPs move it by less than float32 resolves)."""
    save_tiny_pretrained(family, tokenizer_dir, out_dir)
    config = AutoConfig.from_pretrained(out_dir)
    config.num_hidden_layers = LAYERS
    config.initializer_range = 0.3
    if family == "modernbert":
        config.layer_types = None  # recomputed for the new depth (global attention every third layer)
        config = type(config)(**config.to_dict())
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(out_dir)
    return out_dir


def save_embedding_models(tokenizer_dir: Path, root: Path) -> dict[str, Path]:
    """One saved embedding model (the embedding stage's format) per entry of ARMS."""
    dirs = {}
    for (family, bidirectional), name in zip(ARMS, ARM_IDS):
        pretrained = save_deeper_pretrained(family, tokenizer_dir, root / f"{name}_pretrained")
        arm = tiny_arm(family, name=name.replace("-", "_"), bidirectional=bidirectional)
        model = build_embedding_model(pretrained, arm, max_seq_length=64, normalize=False)
        dirs[name] = save_embedding_model(model, root / name / "model")
    return dirs
