"""Pretraining throughput: our Trainer-based script against a minimal plain-PyTorch loop.

Same model config, same packed shards in the same seeded order, same collator (masking or shifted
labels), same optimizer settings, same batch, same threads, same process. Ours is
`twinarch.pretrain.build_run(spec).trainer.train()`, with its progress, non-finite-loss and
pre-emption callbacks; the baseline is `for batch in DataLoader: loss.backward(); clip; step`.
Both are timed from the end of their first `--warmup` optimizer steps to the end of the last, so
start-up (model build, the Trainer's evaluation on start) is not counted; the two alternate for
`--repeats` rounds so that machine noise hits both. Prints tokens/s of each and the median ratio
(ours / plain; the issue's target is >= 0.9). Not a test.

It needs the demo's tokenizer, shards and model configs, and builds them (a cached Snakemake
target, seconds) when they are missing:

    .venv/bin/python benchmarks/bench_pretrain.py [--arm encoder] [--steps 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoConfig, AutoTokenizer, TrainerCallback, set_seed  # noqa: E402

from twinarch.core.config import get_arm, load_config  # noqa: E402
from twinarch.pretrain.data import (  # noqa: E402
    PackedBlocks,
    ShardSet,
    StreamSeededCollator,
    language_model_collator,
    training_order,
)
from twinarch.pretrain.models import model_class  # noqa: E402
from twinarch.pretrain.run import PretrainJob, build_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class StepClock(TrainerCallback):
    """Wall-clock time at the end of every optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN003, ANN201
        self.times.append(time.perf_counter())


def ensure_inputs(config_path: Path, stage: str, arm: str) -> None:
    targets = [f"results/shards/{stage}/manifest.json", f"results/models/{arm}/config.json", "results/tokenizer"]
    if all((REPO / t).exists() for t in targets):
        return
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(config_path), *targets],
        cwd=REPO,
        check=True,
    )


def make_spec(config: dict, arm: str, stage: str, steps: int, work: Path, threads: int) -> dict:
    """The workflow's spec for one (arm, stage), with a budget of `steps` steps and no evaluation or
    checkpoint inside them (the plain loop has neither)."""
    pretrain = copy.deepcopy(config["pretrain"])
    entry = next(s for s in pretrain["stages"] if s["name"] == stage)
    entry.update(
        token_budget=steps
        * entry["per_device_batch_size"]
        * entry.get("gradient_accumulation_steps", 1)
        * entry["seq_len"],
        eval_every_steps=10 * steps,
        checkpoint_every_steps=10 * steps,
        loop_epochs=True,
    )
    return {
        "arm": {**get_arm(config, arm).__dict__, "token_budget_scale": 1.0},
        "stage": stage,
        "pretrain": pretrain,
        "device": {"device": "cpu"},
        "seed": config["seed"],
        "threads": threads,
        "paths": {
            "shards_manifest": str(REPO / f"results/shards/{stage}/manifest.json"),
            "tokenizer_dir": str(REPO / "results/tokenizer"),
            "model_config": str(REPO / f"results/models/{arm}/config.json"),
            "work_dir": str(work),
            "output_model": str(work / "model"),
            "output_manifest": str(work / "manifest.json"),
            "output_metrics": str(work / "metrics.jsonl"),
        },
    }


def ours(spec: dict) -> list[float]:
    run = build_run(spec)
    clock = StepClock()
    run.trainer.add_callback(clock)
    run.trainer.train()
    return clock.times


def plain_loop(spec: dict) -> list[float]:
    """The minimal loop a researcher would write: no callbacks, no evaluation, no checkpoints."""
    job = PretrainJob.from_spec(spec)
    stage, opt, p = job.stage, job.pretrain.optimizer, job.pretrain
    torch.set_num_threads(job.threads)
    set_seed(job.seed)
    tokenizer = AutoTokenizer.from_pretrained(job.paths.tokenizer_dir)
    shards = ShardSet.load(job.paths.shards_manifest)
    steps = stage.token_budget // (stage.per_device_batch_size * stage.seq_len)
    order = training_order(job.seed, shards.train_blocks, steps * stage.per_device_batch_size, True, "bench")
    collator = StreamSeededCollator(
        language_model_collator(
            tokenizer, job.objective, p.mlm_probability, p.mask_replace_prob, p.random_replace_prob
        ),
        job.seed,
    )
    loader = torch.utils.data.DataLoader(
        PackedBlocks([s.path for s in shards.train], order),
        batch_size=stage.per_device_batch_size,
        collate_fn=collator,
        shuffle=False,
    )
    config = AutoConfig.from_pretrained(str(Path(job.paths.model_config).parent))
    model = model_class(job.arm.family).from_config(config, attn_implementation="sdpa")
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=stage.learning_rate, betas=tuple(opt.betas), eps=opt.eps, weight_decay=opt.weight_decay
    )
    times = []
    for batch in loader:
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), opt.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter())
    return times


def tokens_per_second(times: list[float], warmup: int, tokens_per_step: int) -> float:
    timed = times[warmup - 1 :]
    return (len(timed) - 1) * tokens_per_step / (timed[-1] - timed[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--arm", default="encoder")
    parser.add_argument("--stage", default="stage1")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    args = parser.parse_args()

    os.chdir(REPO)
    ensure_inputs(args.config, args.stage, args.arm)
    config = load_config(args.config)
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-pretrain-") as tmp:
        for repeat in range(args.repeats):
            spec = make_spec(config, args.arm, args.stage, args.steps, Path(tmp) / f"run{repeat}", args.threads)
            job = PretrainJob.from_spec(spec)
            tokens_per_step = job.stage.per_device_batch_size * job.stage.seq_len
            t_ours = tokens_per_second(ours(spec), args.warmup, tokens_per_step)
            t_plain = tokens_per_second(plain_loop(spec), args.warmup, tokens_per_step)
            ratios.append(t_ours / t_plain)
            print(
                f"round {repeat + 1}: {args.arm}/{args.stage} ({job.objective}, batch {job.stage.per_device_batch_size} x "
                f"{job.stage.seq_len}, {args.threads} thread(s)): ours {t_ours:,.0f} tokens/s, plain loop "
                f"{t_plain:,.0f} tokens/s, ratio {t_ours / t_plain:.2f}",
                flush=True,
            )
    print(f"median ratio ours / plain PyTorch loop: {statistics.median(ratios):.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
