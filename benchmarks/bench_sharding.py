"""Sharding throughput and memory, against a plain `datasets.map(batched=True)` tokenization.

Ours: `twinarch.data.shards.write_training_shard` end to end (read the JSON Lines corpus, hash each
document's id for its split, batch-tokenize, pack into blocks, write the `.npy`, sha256 it).
Baseline: only the tokenization step of the usual recipe, `Dataset.map(batched=True)` with the
same fast tokenizer on the same text, already loaded (so the ratio is conservative). Each run is a
fresh subprocess so that its peak RSS is its own; two corpus sizes show whether memory stays flat.

    .venv/bin/python benchmarks/bench_sharding.py [--chars 2000000 8000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TWINARCH_DATA_ROOT", REPO.parent / "shared" / "data"))
SEQ_LEN = 512


def write_corpus(path: Path, chars: int) -> None:
    """Real Japanese documents (Aozora paragraphs grouped to about 1,000 characters) up to `chars`."""
    from twinarch.core.io import iter_jsonl

    written, doc, n = 0, [], 0
    with path.open("w", encoding="utf-8") as out:
        while written < chars:
            for row in iter_jsonl(DATA / "aozora" / "aozora_pd_sample.jsonl"):
                for para in row["text"].split("\n"):
                    doc.append(para)
                    if sum(map(len, doc)) >= 1000:
                        text = "\n".join(doc)
                        out.write(json.dumps({"id": f"d{n}", "text": text}, ensure_ascii=False) + "\n")
                        written, doc, n = written + len(text), [], n + 1
                        if written >= chars:
                            return


def run_ours(corpus: Path, tokenizer_dir: Path, out: Path) -> dict:
    from twinarch.data.config import ShardsConfig, StagePlan
    from twinarch.data.shards import write_training_shard
    from twinarch.data.sources import build_sources

    plan = StagePlan(
        "bench",
        SEQ_LEN,
        0,
        {"c": {"type": "local", "path": str(corpus), "id_field": "id"}},
        ShardsConfig(num_shards=1, validation_fraction=0.0),
    )
    start = time.perf_counter()
    stats = write_training_shard(plan, build_sources(plan.corpora), tokenizer_dir, "1-of-1", out)
    seconds = time.perf_counter() - start
    return {"tokens": stats.tokens + stats.dropped_tokens, "seconds": seconds}


def run_baseline(corpus: Path, tokenizer_dir: Path, out: Path) -> dict:
    import datasets
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    ds = datasets.load_dataset("json", data_files=str(corpus), split="train", cache_dir=str(out.parent / "hf"))
    start = time.perf_counter()
    mapped = ds.map(
        lambda b: tok(b["text"], add_special_tokens=False),
        batched=True,
        batch_size=1000,
        remove_columns=ds.column_names,
        cache_file_name=str(out.parent / "map.arrow"),
    )
    seconds = time.perf_counter() - start
    tokens = sum(len(ids) + 1 for ids in mapped["input_ids"])  # +1: the eos ours appends
    return {"tokens": tokens, "seconds": seconds}


def child(mode: str, corpus: Path, tokenizer_dir: Path, out: Path) -> None:
    result = (run_ours if mode == "ours" else run_baseline)(corpus, tokenizer_dir, out)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(mode: str, corpus: Path, tokenizer_dir: Path, work: Path) -> dict:
    out = work / f"{mode}-{corpus.stem}" / "part.npy"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(corpus), str(tokenizer_dir), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, nargs=2, default=[2_000_000, 8_000_000])
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, corpus, tokenizer_dir, out = args.child
        child(mode, Path(corpus), Path(tokenizer_dir), Path(out))
        return

    from twinarch.core.io import iter_jsonl
    from twinarch.data.tokenizer import train_tokenizer

    with tempfile.TemporaryDirectory(prefix="bench-sharding-") as tmp:
        work = Path(tmp)
        sample = [
            r["text"][:20_000] for _, r in zip(range(100), iter_jsonl(DATA / "aozora" / "aozora_pd_sample.jsonl"))
        ]
        tokenizer_dir = train_tokenizer(sample, work / "tokenizer", kind="bpe", vocab_size=8000)
        rows = []
        for chars in args.chars:
            corpus = work / f"corpus_{chars}.jsonl"
            write_corpus(corpus, chars)
            ours = measure("ours", corpus, tokenizer_dir, work)
            base = measure("baseline", corpus, tokenizer_dir, work)
            rows.append((chars, ours, base))
            print(
                f"{chars / 1e6:.0f} M chars, {ours['tokens'] / 1e6:.2f} M tokens: "
                f"ours {ours['tokens'] / ours['seconds'] / 1e6:.2f} M tokens/s (peak RSS {ours['peak_rss_mb']:.0f} MB), "
                f"datasets.map {base['tokens'] / base['seconds'] / 1e6:.2f} M tokens/s (peak RSS {base['peak_rss_mb']:.0f} MB), "
                f"throughput ratio {ours['tokens'] / ours['seconds'] / (base['tokens'] / base['seconds']):.2f}"
            )
        (c1, o1, _), (c2, o2, _) = rows
        print(f"peak RSS of ours at {c2 / c1:.0f}x the text: {o2['peak_rss_mb'] / o1['peak_rss_mb']:.2f}x (flat = 1.0)")


if __name__ == "__main__":
    main()
