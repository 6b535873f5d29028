"""Pretraining tokens/s of candidate jmini shapes on this CPU, both families, one thread.

jmini's budgets are chosen from these figures (config/jmini.yaml says the arithmetic): how many
tokens a stage can afford follows from the tokens/s a shape reaches here, so the shape, the
vocabulary and the sequence length are measured together. Each candidate is a random-init model
of the family's pretraining class (twinarch.pretrain.models, the same configs the workflow
builds), trained on random token ids with its objective's labels (30% of positions for MLM, all
for CLM) by a plain AdamW loop: the model's compute, not the Trainer's (bench_pretrain.py measures
that overhead: about 6%). The two families alternate for `--repeats` rounds so that machine noise
hits both; the median is printed. Not a test.

    .venv/bin/python benchmarks/bench_jmini_shapes.py [--steps 12] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from twinarch.pretrain.models import Shape, _family_config, model_class

# (label, shape, vocabulary, sequence length, batch)
CANDIDATES: tuple[tuple[str, Shape, int, int, int], ...] = (
    ("jmini-small today (6x256, 16k vocab)", Shape(6, 256, 512, 4), 16000, 128, 8),
    ("4x256, 8k vocab", Shape(4, 256, 512, 4), 8000, 128, 8),
    ("4x192, 8k vocab", Shape(4, 192, 384, 4), 8000, 128, 8),
    ("4x128, 8k vocab", Shape(4, 128, 256, 4), 8000, 128, 8),
    ("6x128, 8k vocab", Shape(6, 128, 384, 4), 8000, 128, 16),
)
SPECIAL_IDS = {
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "cls_token_id": 3,
    "sep_token_id": 4,
    "unk_token_id": 5,
    "mask_token_id": 6,
}
MLM_FRACTION = 0.3


def build(family: str, shape: Shape, vocab: int) -> torch.nn.Module:
    config = _family_config(family, shape, {}, vocab, SPECIAL_IDS, max_position_embeddings=1024)
    return model_class(family).from_config(config, attn_implementation="sdpa")


def batch(family: str, vocab: int, seq_len: int, size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    ids = torch.randint(10, vocab, (size, seq_len), generator=generator)
    if family == "llama":
        return {"input_ids": ids, "labels": ids.clone()}
    labels = torch.full_like(ids, -100)
    masked = torch.rand(ids.shape, generator=generator) < MLM_FRACTION
    labels[masked] = ids[masked]
    return {"input_ids": ids.masked_fill(masked, SPECIAL_IDS["mask_token_id"]), "labels": labels}


def tokens_per_second(family: str, shape: Shape, vocab: int, seq_len: int, size: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build(family, shape, vocab).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    generator = torch.Generator().manual_seed(0)
    warmup = 2
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        loss = model(**batch(family, vocab, seq_len, size, generator)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * seq_len * size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'candidate':40s} {'non-emb params':>14s} {'encoder tok/s':>14s} {'decoder tok/s':>14s}")
    for label, shape, vocab, seq_len, size in CANDIDATES:
        rates: dict[str, list[float]] = {"modernbert": [], "llama": []}
        for _ in range(args.repeats):
            for family in rates:
                rates[family].append(tokens_per_second(family, shape, vocab, seq_len, size, args.steps))
        model = build("llama", shape, vocab)
        embedding = sum(p.numel() for n, p in model.named_parameters() if "embed" in n or "lm_head" in n)
        non_embedding = sum(p.numel() for p in model.parameters()) - embedding
        median = {family: statistics.median(values) for family, values in rates.items()}
        print(
            f"{label:40s} {non_embedding / 1e6:13.2f}M {median['modernbert']:14,.0f} {median['llama']:14,.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
