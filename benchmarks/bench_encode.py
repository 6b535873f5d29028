"""End-to-end encoding throughput: the profiler's encode path against sentence-transformers' `encode`.

Same model, same texts (real Japanese sentences and passages of mixed lengths), same batch size,
same run; the two alternate so that machine noise hits both. Prints texts/s of each and the ratio
(ours / sentence-transformers; >= 1.0 means the profiler's encode timing is not slowed by its own
encode path). Not a test.

    .venv/bin/python benchmarks/bench_encode.py --data-root ../shared/data [--family llama]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from twinarch.core.config import Arm
from twinarch.core.device import DeviceSettings
from twinarch.core.io import iter_jsonl
from twinarch.data.tokenizer import train_tokenizer
from twinarch.profile.measure import build_random_model, encode_texts


def mixed_length_texts(data_root: Path, count: int) -> list[str]:
    """Half short STS sentences, half Wikipedia paragraphs: padding matters when lengths differ."""
    sentences = [r["sentence1"] for _, r in zip(range(count // 2), iter_jsonl(data_root / "jglue" / "jsts_valid.json"))]
    passages = [
        r["text"]
        for _, r in zip(range(count - len(sentences)), iter_jsonl(data_root / "jaquad" / "jaquad_dev_passages.jsonl"))
    ]
    texts = sentences + passages
    # Interleave so neither method benefits from input that is already sorted.
    return texts[::2] + texts[1::2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--family", choices=["modernbert", "llama"], default="modernbert")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    texts = mixed_length_texts(args.data_root, args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = train_tokenizer(texts, Path(tmp) / "tokenizer", vocab_size=4000)
        from transformers import AutoTokenizer, LlamaConfig, ModernBertConfig

        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        ids = dict(
            vocab_size=len(tok),
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
        shape = dict(
            hidden_size=256,
            intermediate_size=768,
            num_hidden_layers=4,
            num_attention_heads=4,
            max_position_embeddings=1024,
        )
        if args.family == "modernbert":
            config = ModernBertConfig(
                **shape,
                **ids,
                cls_token_id=tok.cls_token_id,
                sep_token_id=tok.sep_token_id,
                mask_token_id=tok.mask_token_id,
            )
        else:
            config = LlamaConfig(**shape, **ids, num_key_value_heads=4)
        config.save_pretrained(Path(tmp) / "model")
        arm = Arm(
            name=args.family,
            display_name=args.family,
            family=args.family,
            objective="mlm" if args.family == "modernbert" else "clm",
            size="bench",
        )
        model = build_random_model(
            Path(tmp) / "model",
            tokenizer_dir,
            arm,
            DeviceSettings("cpu", torch.float32, "sdpa"),
            max_seq_length=args.max_seq_length,
            normalize=False,
            seed=0,
        )

    def ours() -> torch.Tensor:
        return encode_texts(model, texts, batch_size=args.batch_size)

    def library() -> torch.Tensor:
        return model.encode(texts, batch_size=args.batch_size, convert_to_tensor=True, show_progress_bar=False)

    torch.testing.assert_close(ours(), library(), atol=1e-4, rtol=1e-3)  # same embeddings (and a warm-up)
    contenders = [("ours", ours), ("sentence-transformers", library)]
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for repeat in range(args.repeats):
        # Alternate which goes first, so neither always runs on a cache the other warmed.
        for name, fn in contenders[:: 1 if repeat % 2 == 0 else -1]:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    # Best of n: on a shared machine the minimum is the run least disturbed by other processes.
    rates = {name: len(texts) / min(t) for name, t in times.items()}
    spread = {name: statistics.median(t) / min(t) for name, t in times.items()}
    print(
        f"{args.family}, {len(texts)} texts, batch {args.batch_size}, max {args.max_seq_length} tokens, "
        f"{args.threads} thread(s), best of {args.repeats}"
    )
    for name, rate in rates.items():
        print(f"  {name:>22}: {rate:8.1f} texts/s (median run {spread[name]:.2f}x the best)")
    print(f"  ratio ours / sentence-transformers: {rates['ours'] / rates['sentence-transformers']:.3f}")


if __name__ == "__main__":
    main()
