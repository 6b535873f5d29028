"""Sentence-transformers models built from an arm's pretrained checkpoint.

An embedding model is the pretrained base network (its LM head dropped) followed by sentence-
transformers' own `Pooling` and, optionally, `Normalize` modules, saved as a plain
SentenceTransformer directory that loads without `trust_remote_code`.

Decoders become bidirectional the LLM2Vec way but without patching attention code: transformers 5
builds a padding-only mask when `config.is_causal` is False, and the flag is written to
config.json, so every later reload (WSL, FT, evaluation, profiling) stays bidirectional. Older
patches that override `_update_causal_mask` silently stay causal under SDPA with padding on recent
transformers, so `build_embedding_model` probes the built model and refuses one whose attention
direction is not the arm's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

from twinarch.core.config import Arm
from twinarch.core.io import atomic_dir

log = logging.getLogger(__name__)

# Long enough that a later token is many positions away from the first, short enough to be free.
PROBE_LENGTH = 8


def wants_bidirectional(arm: Arm) -> bool:
    """Encoders are bidirectional by construction; a decoder is switched only when the arm asks."""
    return arm.is_encoder or arm.bidirectional


def apply_bidirectional_switch(transformer: Transformer, arm: Arm) -> None:
    """Set `is_causal = False` on a decoder's loaded config when the arm asks for it.

    It has to be set on the loaded config: `AutoConfig.from_pretrained(..., is_causal=False)`
    silently drops the keyword for configs (like Llama's) that do not declare the attribute.
    """
    if not arm.is_encoder and arm.bidirectional:
        transformer.auto_model.config.is_causal = False


def align_special_token_ids(transformer: Transformer) -> None:
    """Make the model config's pad/bos/eos ids the tokenizer's.

    The sentence-transformers trainer overwrites the model's bos/eos ids with the tokenizer's; doing
    it here, visibly, keeps the saved config and the trained model consistent from the start. A
    tokenizer without a pad token (common for hub decoders) pads with its eos token.
    """
    tokenizer, config = transformer.tokenizer, transformer.auto_model.config
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer of {config.name_or_path} has neither a pad nor an eos token")
        log.warning("tokenizer has no pad token: padding with its eos token %r", tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        wanted = getattr(tokenizer, name)
        if wanted is not None and getattr(config, name, None) != wanted:
            log.info("model config %s %s -> %s (the tokenizer's)", name, getattr(config, name, None), wanted)
            setattr(config, name, wanted)


@torch.no_grad()
def attends_to_later_tokens(model: SentenceTransformer) -> bool:
    """Whether changing the last token changes the first token's hidden state (a forward probe)."""
    network = model[0].auto_model
    vocab = network.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (1, PROBE_LENGTH), generator=generator)
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % vocab
    device = next(network.parameters()).device
    was_training = network.training
    network.eval()
    try:
        states = [
            network(input_ids=x.to(device), attention_mask=torch.ones_like(x, device=device)).last_hidden_state
            for x in (ids, changed)
        ]
    finally:
        network.train(was_training)
    return not torch.allclose(states[0][0, 0], states[1][0, 0])


def build_embedding_model(
    source: str | Path,
    arm: Arm,
    *,
    max_seq_length: int,
    normalize: bool,
    attn_implementation: str = "sdpa",
) -> SentenceTransformer:
    """Base network of `source` (a Hugging Face model dir or hub id) + the arm's pooling.

    The network is loaded with AutoModel, which drops an MLM or CLM head from the checkpoint; the
    weights stay float32 here (mixed precision is the trainer's business).
    """
    transformer = Transformer(
        str(source),
        model_kwargs={"attn_implementation": attn_implementation},
        max_seq_length=max_seq_length,
    )
    apply_bidirectional_switch(transformer, arm)
    align_special_token_ids(transformer)
    modules: list[torch.nn.Module] = [
        transformer,
        Pooling(transformer.get_embedding_dimension(), pooling_mode=arm.pooling),
    ]
    if normalize:
        modules.append(Normalize())
    model = SentenceTransformer(modules=modules, device="cpu")
    check_attention_direction(model, arm)
    return model


def check_attention_direction(model: SentenceTransformer, arm: Arm) -> None:
    """Raise if the model's attention direction is not the one the arm's config asks for."""
    bidirectional = attends_to_later_tokens(model)
    if bidirectional != wants_bidirectional(arm):
        want = "bidirectional" if wants_bidirectional(arm) else "causal"
        raise RuntimeError(
            f"arm '{arm.name}': the {arm.family} model is not {want} after loading "
            f"(config.is_causal={getattr(model[0].auto_model.config, 'is_causal', None)}); this "
            "transformers version does not honour config.is_causal for this architecture"
        )
    log.info("arm '%s': attention is %s", arm.name, "bidirectional" if bidirectional else "causal")


def save_embedding_model(model: SentenceTransformer, out_dir: str | Path) -> Path:
    """Save a SentenceTransformer directory atomically (it appears complete or not at all)."""
    with atomic_dir(out_dir) as tmp:
        model.save(str(tmp), safe_serialization=True)
    return Path(out_dir)


def load_embedding_model(
    path: str | Path, device: str | None = None, attn_implementation: str | None = None
) -> SentenceTransformer:
    """Load a saved embedding model; local files only, no remote code."""
    model_kwargs = {"attn_implementation": attn_implementation} if attn_implementation else None
    return SentenceTransformer(
        str(path), device=device, local_files_only=True, trust_remote_code=False, model_kwargs=model_kwargs
    )
