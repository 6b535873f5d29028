"""GPU check: the paper's 0.5B encoder-decoder pair at random init, in bf16, on one GPU, in minutes.

Run it through `bash benchmarks/gpu_check.sh` (docs/gpu-check.md). It prints, for the arms `encoder`
(ModernBERT) and `decoder` (Llama) of config/paper.yaml at their size (`paper-0.5b`, shapes from
twinarch.pretrain.models):

1. Table 2's cell (length 128, batch 128): samples/s and peak memory of both arms, measured by the
   profiling stage's own code (one worker process per arm, cells interleaved over rounds:
   twinarch.profile.workers and .measure), beside the paper's figures;
2. pretraining tokens/s and MFU at length 1024, MLM 30% for ModernBERT and CLM for Llama, built by the
   pretraining stage's own `build_run` (the Trainer, its collators and the paper's optimizer
   settings), timed over a few optimizer steps after warm-up;
3. the bidirectionality probe (twinarch.embed.model) run on the device, and the attention kernel;

then one summary block to paste into the README. The three parts are independent: one that fails is
printed with its traceback and named in the summary, and the others still run (the exit status is
then 1, as it is when a probe does not find what the arm wants). `--tiny` (GPU_CHECK_TINY=1) runs the
same code at a tiny size on a CPU in about a minute.

No tokenizer comes from the hub: the shared tokenizer is a word-level one built here with
Sarashina2.2's vocabulary size (102,400) and the study's special tokens, fed random words, so every
text is exactly as many tokens as words and token ids are uniform over the vocabulary. The models,
their configs (built by `build_model_config` from that tokenizer), the shards (written by the data
stage's `write_blocks`) and the timings are the study's own; only the tokenisation inside the
`encode` timing differs from Sarashina's (a dictionary lookup, cheaper than its Unigram model).

The library versions are printed and checked before torch is imported, so a mismatched image says
so in the first lines, not in a traceback.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "config" / "paper.yaml"
ARMS = ("encoder", "decoder")
# Sarashina2.2's vocabulary (config/paper.yaml: tokenizer.pretrained sbintuitions/sarashina2.2-0.5b).
SARASHINA_VOCAB = 102_400
# The paper's Table 2 (one H100, bf16, length 128, batch 128), as quoted in config/paper.yaml's
# profile.table2_note: samples/s and MB.
PAPER_TABLE2 = {"encoder": (2205.0, 2877.0), "decoder": (1421.0, 3885.0)}
PAPER_SPEEDUP = 1.55
# Dense bf16 tensor-core peaks (NVIDIA data sheets: half the "with sparsity" figure), most specific
# name first; GPU_CHECK_PEAK_TFLOPS overrides them for any other device.
PEAK_BF16_TFLOPS = (
    ("H200 NVL", 835.5),
    ("H200", 989.4),
    ("H100 NVL", 835.5),
    ("H100 PCIe", 756.5),
    ("H100", 989.4),
    ("A100", 312.0),
)
# Libraries the check prints; the first group it cannot run without.
REQUIRED = ("torch", "transformers", "sentence-transformers", "tokenizers", "safetensors", "accelerate", "numpy")
REPORTED = (*REQUIRED, "peft", "pyyaml", "schedulefree")
# What the lent GPU image lacks (docs/gpu-check.md); the check imports none of them.
NOT_NEEDED = ("pandas", "mteb", "datasets", "deepspeed", "flash-attn", "snakemake")


@dataclass(frozen=True)
class CheckSize:
    """Everything that differs between the paper-size check and its tiny rehearsal; the code path is one."""

    model_size: str | None  # None: each arm's own size
    vocab_size: int
    # A size to add to config.models.presets: (layers, hidden, intermediate, heads).
    preset: tuple[int, int, int, int] | None
    pretrain_seq_len: int
    per_device_batch_size: int
    gradient_accumulation_steps: int
    warmup_steps: int
    timed_steps: int
    train_blocks: int
    eval_blocks: int
    # None: the paper config's.
    threads: int | None
    table2_cell: tuple[int, int] | None  # (seq_len, batch_size)
    label: str


def paper_size(config: dict[str, Any]) -> CheckSize:
    """The paper's arms, vocabulary, Table 2 cell and stage-1 batch (16 x 32 accumulated x 1024)."""
    stage1 = config["pretrain"]["stages"][0]
    return CheckSize(
        model_size=None,
        vocab_size=SARASHINA_VOCAB,
        preset=None,
        pretrain_seq_len=stage1["seq_len"],
        per_device_batch_size=stage1["per_device_batch_size"],
        gradient_accumulation_steps=stage1["gradient_accumulation_steps"],
        warmup_steps=2,
        timed_steps=3,
        train_blocks=256,
        eval_blocks=16,
        threads=None,
        table2_cell=None,
        label="paper size",
    )


TINY = CheckSize(
    # 8 heads: the paper's decoder keeps 8 key-value heads (config/paper.yaml models.llama).
    model_size="gpu-check-tiny",
    vocab_size=512,
    preset=(2, 128, 256, 8),
    pretrain_seq_len=32,
    per_device_batch_size=4,
    gradient_accumulation_steps=2,
    warmup_steps=1,
    timed_steps=2,
    train_blocks=16,
    eval_blocks=4,
    threads=1,
    table2_cell=(16, 8),
    label="TINY rehearsal",
)


# ----------------------------------------------------------------------------- versions, before torch


def project_requirements() -> tuple[str, dict[str, str]]:
    """(requires-python, {distribution: version range}) from pyproject.toml."""
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11, which the project does not support (pyproject.toml)
        return ">=3.11", {}

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ranges = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        ranges[req.name.lower()] = str(req.specifier)
    return project["requires-python"], ranges


def check_versions() -> dict[str, str]:
    """Print every library the check uses against the project's ranges (OUTSIDE marks a version the
    project was not tested with) and exit if a required one is missing. Returns {name: version},
    "" for those absent."""
    from packaging.specifiers import SpecifierSet

    python_range, ranges = project_requirements()
    versions = {"python": platform.python_version(), **{name: installed_version(name) for name in REPORTED}}
    for name, version in versions.items():
        wanted = python_range if name == "python" else ranges.get(name, "")
        outside = version and wanted and not SpecifierSet(wanted).contains(version, prereleases=True)
        note = f" (project: {wanted})" if wanted else ""
        flag = "  OUTSIDE" if outside else "  REQUIRED" if not version and name in REQUIRED else ""
        print(f"{name:>22}: {version or 'absent'}{note}{flag}")
    present = [name for name in NOT_NEEDED if installed_version(name)]
    print(f"{'not needed':>22}: {', '.join(NOT_NEEDED)} (installed here: {', '.join(present) or 'none'})")
    missing = [name for name in REQUIRED if not versions[name]]
    if missing:
        sys.exit(f"gpu_check: {', '.join(missing)} missing; the check needs {', '.join(REQUIRED)}")
    return versions


def installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


# ----------------------------------------------------------------------------- inputs


def load_paper_config() -> dict[str, Any]:
    """config/paper.yaml as written (the schema defaults need snakemake's validator, absent on the GPU
    image; every key the check reads is set in the file)."""
    import yaml

    return yaml.safe_load(PAPER_CONFIG.read_text(encoding="utf-8"))


def arm_entry(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(dict(a) for a in config["arms"] if a["name"] == name)


def build_shared_tokenizer(vocab_size: int, work: Path) -> Path:
    """A word-level tokenizer of `vocab_size` entries (the study's special tokens, then `w0`, `w1`,
    ...), made the shared tokenizer by the data stage's own `build_tokenizer` (manifest, hash).

    Written by hand: no library ships a tokenizer of a given size without training one on text.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from twinarch.data.config import TokenizerConfig
    from twinarch.data.tokenizer import SPECIAL_TOKENS, build_tokenizer

    specials = list(SPECIAL_TOKENS.values())
    vocab = {token: i for i, token in enumerate(specials + [f"w{i}" for i in range(vocab_size - len(specials))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS).save_pretrained(work / "word_level")
    out = work / "tokenizer"
    build_tokenizer(TokenizerConfig(source="pretrained", pretrained=str(work / "word_level")), [], out)
    return out


def random_texts(tokenizer: Any, count: int, words: int, seed: int) -> list[str]:
    """`count` texts of `words` random non-special words each: one token per word, ids uniform."""
    import numpy as np

    first = len(tokenizer.all_special_ids)
    rng = np.random.default_rng(seed)
    ids = rng.integers(first, len(tokenizer), size=(count, words))
    return [" ".join(tokenizer.convert_ids_to_tokens(row.tolist())) for row in ids]


def write_model_configs(config: dict[str, Any], size: CheckSize, tokenizer: Any, work: Path) -> dict[str, Path]:
    """results/models/{arm}/config.json as the pretraining stage writes it, at the check's size."""
    from twinarch.pretrain.models import build_model_config, write_model_config

    models = copy.deepcopy(config["models"])
    if size.preset:
        keys = ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads")
        models.setdefault("presets", {})[size.model_size] = dict(zip(keys, size.preset))
    dirs = {}
    for arm in ARMS:
        entry = arm_entry(config, arm)
        model_config = build_model_config(entry["family"], size.model_size or entry["size"], tokenizer, models)
        dirs[arm] = write_model_config(model_config, work / "models" / arm / "config.json").parent
    return dirs


def write_shards(config: dict[str, Any], size: CheckSize, tokenizer_dir: Path, tokenizer: Any, work: Path) -> Path:
    """A stage's shards and manifest (training and validation) of random words, written by the data
    stage's own `write_blocks` and `build_manifest`."""
    from dataclasses import asdict

    from twinarch.core.io import atomic_write_json
    from twinarch.data.config import ShardsConfig, StagePlan
    from twinarch.data.shards import build_manifest, write_blocks
    from twinarch.data.sources import Document
    from twinarch.data.tokenizer import read_tokenizer_manifest

    seq_len = size.pretrain_seq_len
    plan = StagePlan("gpu_check", seq_len, config["seed"], {}, ShardsConfig())
    stats = {}
    for seed, (split, blocks) in enumerate((("train", size.train_blocks), ("validation", size.eval_blocks))):
        # One document per block: its words plus the eos the data stage appends fill exactly one block.
        texts = random_texts(tokenizer, blocks, seq_len - 1, seed=seed)
        docs = (Document(f"{split}-{i}", text) for i, text in enumerate(texts))
        path = work / "shards" / f"{split}.npy"
        stats[split] = asdict(write_blocks(docs, tokenizer, path, seq_len, plan.shards.batch_documents, split))
    manifest = build_manifest(plan, read_tokenizer_manifest(tokenizer_dir), [stats["train"]], stats["validation"])
    return atomic_write_json(work / "shards" / "manifest.json", manifest)


# ----------------------------------------------------------------------------- 1. Table 2's cell


def measure_table2(
    config: dict[str, Any], size: CheckSize, model_dirs: dict[str, Path], tokenizer_dir: Path, texts: list[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """{mode: {arm: row}} at Table 2's cell, by the profiling stage's workers (twinarch.profile.workers:
    one process per arm, so each arm's CUDA memory statistics are its own; every cell measured for
    both arms back to back, over the paper's rounds)."""
    from twinarch.profile.config import ProfileSettings
    from twinarch.profile.workers import ArmJob, Worker, grid, schedule

    section = copy.deepcopy(config["profile"])
    seq_len, batch = size.table2_cell or (section["table2_cell"]["seq_len"], section["table2_cell"]["batch_size"])
    section.update(seq_lens=[seq_len], batch_sizes=[batch], table2_cell={"seq_len": seq_len, "batch_size": batch})
    section["threads"] = size.threads or section["threads"]
    settings = ProfileSettings.from_section(section, data_root="")
    common = {
        "profile": section,
        "device": config.get("device", {}),
        "data_root": "",
        "normalize": config["embed"]["normalize"],
        "seed": config["seed"],
        "threads": section["threads"],
        "texts": texts,
    }
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    with ExitStack() as stack:
        workers = {
            arm: stack.enter_context(
                Worker(ArmJob(arm_entry(config, arm), str(model_dirs[arm]), str(tokenizer_dir), ""), common)
            )
            for arm in ARMS
        }
        for worker in workers.values():
            worker.reply()
        for _, (mode, s, b), arm in schedule(list(workers), grid(settings), settings.rounds):
            rows.setdefault(mode, {})[arm] = workers[arm].request({"op": "measure", "cell": [mode, s, b]})["row"]
    return rows


# ----------------------------------------------------------------------------- 2. pretraining


def pretrain_spec(
    config: dict[str, Any], size: CheckSize, arm: str, paths: dict[str, Path], work: Path
) -> dict[str, Any]:
    """The pretraining stage's spec for stage 1 of `arm`, with a budget of the check's steps.

    Changed from the paper's stage: no DeepSpeed (one GPU, and the image has none), an evaluation and
    checkpoint interval beyond the run (StepClock also drops the Trainer's final save), a small
    validation set, and the schedule-free optimizer replaced by AdamW (same betas, eps and decay)
    where its `schedulefree` package is absent.
    """
    from twinarch.pretrain.config import OPTIONAL_OPTIMIZER_PACKAGES

    entry = arm_entry(config, arm)
    steps = size.warmup_steps + size.timed_steps
    stage = dict(config["pretrain"]["stages"][0])
    stage.update(
        seq_len=size.pretrain_seq_len,
        per_device_batch_size=size.per_device_batch_size,
        gradient_accumulation_steps=size.gradient_accumulation_steps,
        token_budget=steps * size.per_device_batch_size * size.gradient_accumulation_steps * size.pretrain_seq_len,
        loop_epochs=True,
        deepspeed=None,
        eval_every_steps=10 * steps,
        checkpoint_every_steps=10 * steps,
    )
    pretrain = {k: copy.deepcopy(v) for k, v in config["pretrain"].items() if k != "stages"}
    pretrain["eval_max_blocks"] = size.eval_blocks
    package = OPTIONAL_OPTIMIZER_PACKAGES.get(pretrain["optimizer"]["name"])
    if package and not installed_version(package):
        print(f"{package} is absent: AdamW instead of {pretrain['optimizer']['name']} (benchmarks/gpu_wheels.txt)")
        pretrain["optimizer"]["name"] = "adamw_torch"
    return {
        "arm": {"name": arm, "family": entry["family"], "token_budget_scale": 1.0},
        "stage": stage,
        "pretrain": pretrain,
        "device": config.get("device", {}),
        "seed": config["seed"],
        "threads": size.threads or config["pretrain"]["threads"],
        "paths": {
            "shards_manifest": str(paths["shards"]),
            "tokenizer_dir": str(paths["tokenizer"]),
            "model_config": str(paths[arm] / "config.json"),
            "work_dir": str(work / "pretrain" / arm),
            "output_model": str(work / "pretrain" / arm / "model"),
            "output_manifest": str(work / "pretrain" / arm / "manifest.json"),
            "output_metrics": str(work / "pretrain" / arm / "metrics.jsonl"),
        },
    }


def step_clock(warmup_steps: int) -> Any:
    """A Trainer callback that records when each optimizer step's work has finished on the device,
    and keeps the run from evaluating or saving at its end (the check keeps nothing)."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())
            control.should_save = False
            control.should_evaluate = False
            return control

        def steps_per_second(self) -> float:
            """From the end of the last warm-up step to the end of the last step."""
            timed = self.times[warmup_steps - 1 :]
            return (len(timed) - 1) / (timed[-1] - timed[0])

    return StepClock()


def matmul_parameters(model: Any) -> int:
    """N of MFU = 6 * N * tokens/s / peak: the weights of every Linear layer, i.e. what multiplies
    each token (the backbone's non-embedding matrices and the LM head's vocabulary projection, tied
    or not); the input embedding is a lookup, and attention scores (12 * layers * hidden * length
    FLOPs per token) are left out, so the MFU is a lower bound."""
    import torch

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def measure_pretraining(config: dict[str, Any], size: CheckSize, paths: dict[str, Path], work: Path) -> dict[str, Any]:
    """{arm: {tokens_per_s, matmul_params, peak_memory_mb, optimizer, ...}} for stage 1 of each arm;
    memory is the profiling stage's measure (CellMeter) over the whole run: weights, optimizer state,
    activations."""
    from twinarch.pretrain.models import initialize_model
    from twinarch.pretrain.run import build_run
    from twinarch.profile.measure import CellMeter, model_bytes
    from twinarch.training.callbacks import log_progress_only

    results = {}
    for arm in ARMS:
        spec = pretrain_spec(config, size, arm, paths, work)
        # Stage 1 continues from the arm's initial weights, as the workflow's initialize_model writes them.
        family = arm_entry(config, arm)["family"]
        init = initialize_model(paths[arm], paths["tokenizer"], family, config["seed"], work / "init" / arm)
        spec["paths"]["init_model"] = str(init)
        run = build_run(spec)
        log_progress_only(run.trainer)
        clock = step_clock(size.warmup_steps)
        run.trainer.add_callback(clock)
        model = run.trainer.model
        meter = CellMeter(run.settings.device, model_mb=model_bytes(model) / 2**20)
        meter.reset_memory()
        run.trainer.train()
        results[arm] = {
            "objective": run.job.objective,
            "tokens_per_s": clock.steps_per_second() * run.budget.tokens_per_step,
            "tokens_per_step": run.budget.tokens_per_step,
            "steps": len(clock.times),
            "matmul_params": matmul_parameters(model),
            "peak_memory_mb": meter.peak_memory_mb()[0],
            "memory_measure": meter.memory_measure,
            "optimizer": str(getattr(run.trainer.args.optim, "value", run.trainer.args.optim)),
            "precision": "bf16 autocast, fp32 weights" if run.trainer.args.bf16 else "fp32",
            "attn_implementation": model.config._attn_implementation,
            "train_loss": run.trainer.state.log_history[-1].get("train_loss", math.nan),
        }
        del run, model
        gc.collect()
        meter.release()
    return results


# ----------------------------------------------------------------------------- 3. the probe on the device


def probe_attention(
    config: dict[str, Any], size: CheckSize, model_dirs: dict[str, Path], tokenizer_dir: Path
) -> dict[str, dict[str, Any]]:
    """Each arm's embedding model built as the profiling stage builds it, then probed where it runs
    (build_embedding_model already probed it on the CPU); the decoder is probed again with
    `config.is_causal` back on, which must make it causal: the probe can tell the two apart there."""
    import torch

    from twinarch.core.config import Arm
    from twinarch.core.device import resolve_device_settings
    from twinarch.embed.model import attends_to_later_tokens, wants_bidirectional
    from twinarch.profile.measure import build_random_model

    device = resolve_device_settings(config.get("device", {}))
    results = {}
    for name in ARMS:
        arm = Arm.from_dict(arm_entry(config, name))
        model = build_random_model(
            model_dirs[name],
            tokenizer_dir,
            arm,
            device,
            max_seq_length=config["embed"]["base_max_seq_length"],
            normalize=config["embed"]["normalize"],
            seed=config["seed"],
        )
        network = model[0].auto_model
        result = {
            "device": str(next(network.parameters()).device),
            "dtype": str(next(network.parameters()).dtype).removeprefix("torch."),
            "attn_implementation": network.config._attn_implementation,
            "wanted_bidirectional": wants_bidirectional(arm),
            "bidirectional": attends_to_later_tokens(model),
        }
        if not arm.is_encoder:
            network.config.is_causal = True
            result["bidirectional_when_causal"] = attends_to_later_tokens(model)
        results[name] = result
        del model, network
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return results


# ----------------------------------------------------------------------------- the report


def peak_tflops(device_name: str) -> float:
    """The device's dense bf16 peak in TFLOP/s (GPU_CHECK_PEAK_TFLOPS wins), NaN when unknown."""
    if os.environ.get("GPU_CHECK_PEAK_TFLOPS"):
        return float(os.environ["GPU_CHECK_PEAK_TFLOPS"])
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in device_name), math.nan)


def machine() -> dict[str, str]:
    """The device's name (for its peak) and a one-line description of the machine."""
    import torch

    from twinarch.core.provenance import device_description

    if not torch.cuda.is_available():
        return {"device_name": "", "description": device_description()}
    props = torch.cuda.get_device_properties(0)
    return {
        "device_name": props.name,
        "description": f"{device_description()} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}, "
        f"cuDNN {torch.backends.cudnn.version()}, {os.cpu_count()} CPUs",
    }


def figures(results: dict[str, Any], peak: float) -> dict[str, float]:
    """Every number the summary prints, flat (the test checks each is finite); none of a failed part."""
    out: dict[str, float] = {}
    for mode, rows in (results["table2"] or {}).items():
        for arm, row in rows.items():
            out[f"table2.{mode}.{arm}.samples_per_s"] = row.get("samples_per_s", math.nan)
            out[f"table2.{mode}.{arm}.peak_memory_mb"] = row.get("peak_memory_mb", math.nan)
        encoder, decoder = (out[f"table2.{mode}.{arm}.samples_per_s"] for arm in ARMS)
        out[f"table2.{mode}.speedup"] = encoder / decoder
    for arm, result in (results["pretraining"] or {}).items():
        out[f"pretrain.{arm}.tokens_per_s"] = result["tokens_per_s"]
        out[f"pretrain.{arm}.peak_memory_mb"] = result["peak_memory_mb"]
        out[f"pretrain.{arm}.mfu"] = 6 * result["matmul_params"] * result["tokens_per_s"] / (peak * 1e12)
    return out


def table2_lines(rows: dict[str, Any], numbers: dict[str, float], paper_mode: str) -> list[str]:
    """Our cell beside the paper's, whose figures are of `paper_mode` (the timing the paper used)."""
    cell = next(iter(next(iter(rows.values())).values()))
    lines = [
        f"Table 2 cell (length {cell['seq_len']}, batch {cell['batch_size']}; paper: one H100, {paper_mode})",
        "| arm | mode | samples/s | paper | peak MB | paper |",
        "|---|---|---|---|---|---|",
    ]
    for mode in rows:
        for arm in ARMS:
            speed, mb = (f"{x:.0f}" for x in PAPER_TABLE2[arm]) if mode == paper_mode else ("–", "–")
            ours = numbers[f"table2.{mode}.{arm}.samples_per_s"], numbers[f"table2.{mode}.{arm}.peak_memory_mb"]
            lines.append(f"| {arm} | {mode} | {ours[0]:.1f} | {speed} | {ours[1]:.0f} | {mb} |")
        paper = f"{PAPER_SPEEDUP:.2f}x" if mode == paper_mode else "–"
        lines.append(f"| speedup encoder/decoder | {mode} | {numbers[f'table2.{mode}.speedup']:.2f}x | {paper} | | |")
    return lines


def pretraining_lines(results: dict[str, Any], numbers: dict[str, float], size: CheckSize, peak: float) -> list[str]:
    first = results["encoder"]
    lines = [
        f"Pretraining (length {size.pretrain_seq_len}, batch {size.per_device_batch_size} x "
        f"{size.gradient_accumulation_steps} accumulated = {first['tokens_per_step']:,} tokens/step, "
        f"{size.timed_steps} steps after {size.warmup_steps} warm-up, {first['optimizer']}, {first['precision']}, "
        f"{first['attn_implementation']}; MFU = 6 N tokens/s / {peak:g} TFLOP/s, N = Linear weights)",
        "| arm | objective | tokens/s | N (M) | MFU | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    for arm, r in results.items():
        tokens, mfu, mb = (numbers[f"pretrain.{arm}.{k}"] for k in ("tokens_per_s", "mfu", "peak_memory_mb"))
        lines.append(
            f"| {arm} | {r['objective'].upper()} | {tokens:,.0f} | {r['matmul_params'] / 1e6:.1f} | {mfu:.1%} | {mb:.0f} |"
        )
    return lines


def probe_lines(probes: dict[str, Any]) -> list[str]:
    def direction(bidirectional: bool) -> str:
        return "bidirectional" if bidirectional else "causal"

    lines = ["Bidirectionality probe on the device (does a later token change the first token's state?)"]
    for arm, p in probes.items():
        verdict = "ok" if p["bidirectional"] == p["wanted_bidirectional"] else "MISMATCH"
        line = (
            f"{arm}: {direction(p['bidirectional'])} on {p['device']} {p['dtype']} ({p['attn_implementation']}), "
            f"wanted {direction(p['wanted_bidirectional'])}: {verdict}"
        )
        if "bidirectional_when_causal" in p:
            control = "MISMATCH" if p["bidirectional_when_causal"] else "ok"
            line += f"; with is_causal=True: {direction(p['bidirectional_when_causal'])}: {control}"
        lines.append(line)
    return lines


def summary(
    info: dict[str, Any],
    results: dict[str, Any],
    errors: dict[str, str],
    numbers: dict[str, float],
    *,
    size: CheckSize,
    peak: float,
    paper_mode: str,
) -> str:
    """The block to paste into the README: machine, versions, shapes, each figure beside the paper's
    (a part that failed says so, with its error)."""
    v = info["versions"]
    lines = [
        "=== twinarch GPU check: summary ===",
        f"machine: {info['machine']['description']}; {info['date']}, commit {info['commit']}, {size.label}",
        "versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val)
        + "; absent: "
        + (", ".join(k for k, val in v.items() if not val) or "none"),
        *(f"{arm}: {shape}" for arm, shape in info["shapes"].items()),
    ]
    parts = {
        "table2": lambda r: table2_lines(r, numbers, paper_mode),
        "pretraining": lambda r: pretraining_lines(r, numbers, size, peak),
        "probes": probe_lines,
    }
    for part, render in parts.items():
        lines += ["", *(render(results[part]) if part not in errors else [f"{part}: FAILED: {errors[part]}"])]
    return "\n".join(lines)


def model_shapes(model_dirs: dict[str, Path]) -> dict[str, str]:
    from transformers import AutoConfig

    from twinarch.pretrain.models import count_config_parameters, shape_of

    out = {}
    for arm, folder in model_dirs.items():
        config = AutoConfig.from_pretrained(str(folder))
        shape, counts = shape_of(config), count_config_parameters(config)
        out[arm] = (
            f"{config.model_type}, {shape.layers} layers x {shape.hidden}, MLP {shape.intermediate}, {shape.heads} heads, "
            f"vocab {config.vocab_size:,}: {counts.non_embedding / 1e6:.1f}M non-embedding parameters"
        )
    return out


def attempt(part: str, measure: Any, *args: Any) -> tuple[Any, str | None]:
    """Run one part; a failure is printed and reported in the summary while the other parts still
    run: one run on the lent machine should tell all it can."""
    try:
        result = measure(*args)
    except Exception as err:  # noqa: BLE001 - every failure is printed, summarised and in the exit status
        traceback.print_exc()
        return None, f"{type(err).__name__}: {err}"
    for key, value in result.items():
        print(f"{part} {key}: {json.dumps(value)}", flush=True)
    return result, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the same check at a tiny size (a CPU is enough)")
    parser.add_argument("--json", type=Path, help="also write the figures and the summary here")
    args = parser.parse_args()
    started = time.perf_counter()
    # The study's own log lines (a profiling worker's traceback among them) and every library's warnings.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("twinarch").setLevel(logging.INFO)

    print("=== versions ===", flush=True)
    versions = check_versions()
    import torch
    from transformers import AutoTokenizer

    from twinarch.core.provenance import git_commit

    info = {"machine": machine(), "versions": versions, "date": time.strftime("%Y-%m-%d"), "commit": git_commit()}
    print(f"=== machine: {info['machine']['description']} ===", flush=True)
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device; GPU_CHECK_TINY=1 runs the rehearsal on a CPU")

    config = load_paper_config()
    size = TINY if args.tiny else paper_size(config)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        tokenizer_dir = build_shared_tokenizer(size.vocab_size, work)
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        model_dirs = write_model_configs(config, size, tokenizer, work)
        info["shapes"] = model_shapes(model_dirs)
        print("\n".join(f"{arm}: {shape}" for arm, shape in info["shapes"].items()), flush=True)
        paths = {"tokenizer": tokenizer_dir, "shards": write_shards(config, size, tokenizer_dir, tokenizer, work)}
        parts = {
            "table2": (measure_table2, config, size, model_dirs, tokenizer_dir, random_texts(tokenizer, 64, 64, 1)),
            "pretraining": (measure_pretraining, config, size, {**paths, **model_dirs}, work),
            "probes": (probe_attention, config, size, model_dirs, tokenizer_dir),
        }
        results, errors = {}, {}
        for n, (part, (measure, *inputs)) in enumerate(parts.items(), start=1):
            print(f"=== {n}. {part} ({time.perf_counter() - started:.0f} s) ===", flush=True)
            results[part], error = attempt(part, measure, *inputs)
            if error:
                errors[part] = error

    peak = peak_tflops(info["machine"]["device_name"])
    numbers = figures(results, peak)
    block = summary(info, results, errors, numbers, size=size, peak=peak, paper_mode=config["profile"]["report_mode"])
    print(f"\n{block}\n(total {time.perf_counter() - started:.0f} s)", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {**info, "figures": numbers, **results, "errors": errors, "summary": block}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    probes_ok = not errors and all(
        p["bidirectional"] == p["wanted_bidirectional"] and not p.get("bidirectional_when_causal", False)
        for p in results["probes"].values()
    )
    return 0 if probes_ok else 1


if __name__ == "__main__":
    sys.exit(main())
