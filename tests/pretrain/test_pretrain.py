"""Pretraining on CPU with tiny models: both objectives learn, read identical tokens, resume exactly,
stop on NaN, refuse mismatched inputs, and run under DeepSpeed ZeRO-2 with two ranks.

Shards are built here with numpy in the data stage's format (docs/architecture.md) from the
`tiny_tokenizer_dir` fixture, so these tests do not depend on the data rules.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from kill_resume import kill_at_checkpoint, same_weights
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

from twinarch.core.io import DataError, iter_jsonl
from twinarch.data.tokenizer import tokenizer_hash
from twinarch.pretrain.data import TokenBudget, training_order
from twinarch.pretrain.models import arm_model_config, initialize_model, write_model_config
from twinarch.pretrain.run import build_run, main
from twinarch.training.callbacks import NonFiniteLossError

SEQ_LENS = {"s1": 32, "s2": 64}
MODELS = {
    "presets": {
        "test-tiny": {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2}
    }
}
ARMS = {
    "encoder": {
        "name": "encoder",
        "display_name": "Enc",
        "family": "modernbert",
        "objective": "mlm",
        "size": "test-tiny",
        "steps": ["s1", "s2"],
    },
    "decoder": {
        "name": "decoder",
        "display_name": "Dec",
        "family": "llama",
        "objective": "clm",
        "size": "test-tiny",
        "steps": ["s1", "s2"],
    },
}


def write_stage_shards(root: Path, stage: str, ids: np.ndarray, seq_len: int, vocab: int, tok_hash: str) -> None:
    """Two training shards and a validation shard, in exactly the data stage's format."""
    blocks = ids[: len(ids) // seq_len * seq_len].reshape(-1, seq_len).astype(np.uint16)
    n_val = max(4, len(blocks) // 10)
    parts = {
        "part_1-of-2.npy": blocks[n_val::2],
        "part_2-of-2.npy": blocks[n_val + 1 :: 2],
        "validation.npy": blocks[:n_val],
    }
    entries = {}
    for name, array in parts.items():
        path = Path("results") / "shards" / stage / name
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        np.save(root / path, array)
        sha = hashlib.sha256((root / path).read_bytes()).hexdigest()
        entries[name] = {"path": str(path), "blocks": len(array), "tokens": array.size, "documents": 1, "sha256": sha}
    shards = [entries["part_1-of-2.npy"], entries["part_2-of-2.npy"]]
    manifest = {
        "stage": stage,
        "seq_len": seq_len,
        "dtype": "uint16",
        "vocab_size": vocab,
        "tokenizer_hash": tok_hash,
        "num_shards": 2,
        "shards": shards,
        "validation": entries["validation.npy"],
        "total_blocks": sum(s["blocks"] for s in shards),
        "total_tokens": sum(s["tokens"] for s in shards),
    }
    (root / "results" / "shards" / stage / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def root(tmp_path_factory, tiny_tokenizer_dir, shared_data) -> Path:
    """A workflow root with the tokenizer (and its manifest), shards of two stages and model configs."""
    root = tmp_path_factory.mktemp("pretrain_root")
    tok_dir = root / "results" / "tokenizer"
    shutil.copytree(tiny_tokenizer_dir, tok_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    tok_hash = tokenizer_hash(tok_dir)
    (tok_dir / "tokenizer_manifest.json").write_text(
        json.dumps({"tokenizer_hash": tok_hash, "vocab_size": len(tokenizer)}), encoding="utf-8"
    )
    texts = [
        row["text"]
        for i, row in enumerate(iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl"))
        if 400 <= i < 900
    ]
    ids = np.concatenate([np.array(tokenizer(t)["input_ids"] + [tokenizer.eos_token_id]) for t in texts])
    for stage, seq_len in SEQ_LENS.items():
        write_stage_shards(root, stage, ids, seq_len, len(tokenizer), tok_hash)
    for arm in ARMS.values():
        config_file = root / "results" / "models" / arm["name"] / "config.json"
        write_model_config(arm_model_config(arm, MODELS, tok_dir), config_file)
        # The seeded random weights, saved (stage 1 draws the same ones itself when given no init_model).
        initialize_model(config_file.parent, tok_dir, arm["family"], 7, root / "results" / "init" / arm["name"])
    return root


def make_spec(
    root: Path, arm: str, stage: str = "s1", tag: str = "run", init_model: str | None = None, **stage_settings
) -> dict:
    """A job spec as the workflow's adapter builds it: run settings, operational settings, paths."""
    seq_len = SEQ_LENS[stage]
    settings = {
        "name": stage,
        "corpora": ["c"],
        "seq_len": seq_len,
        "token_budget": 20 * 4 * seq_len,
        "learning_rate": 1e-2,
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "loop_epochs": False,
        "deepspeed": None,
        "activation_checkpointing": False,
        "eval_every_steps": 10,
        **stage_settings,
    }
    operational = {
        k: settings.pop(k, default) for k, default in (("checkpoint_every_steps", 10), ("log_every_steps", 5))
    }
    out = f"results/{tag}/{arm}/{stage}"
    return {
        "arm": {"name": arm, "family": ARMS[arm]["family"], "token_budget_scale": 1.0},
        "stage": settings,
        "pretrain": {
            "optimizer": {
                "name": "adamw_torch",
                "betas": [0.9, 0.98],
                "eps": 1e-6,
                "weight_decay": 1e-5,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
                "max_grad_norm": 1.0,
            },
            "mlm_probability": 0.3,
            "mask_replace_prob": 0.8,
            "random_replace_prob": 0.1,
            "eval_max_blocks": 16,
        },
        "operational": {
            "stage": operational,
            "pretrain": {"keep_checkpoints": 2, "dataloader_workers": 0, "threads": 1},
        },
        "device": {"dtype": "auto", "attn_implementation": "auto"},
        "seed": 7,
        "threads": 1,
        "paths": {
            "shards_manifest": f"results/shards/{stage}/manifest.json",
            "tokenizer_dir": "results/tokenizer",
            "model_config": f"results/models/{arm}/config.json",
            "init_model": init_model or f"results/init/{arm}",
            "work_dir": f"work/{tag}/{arm}/{stage}",
            "output_model": f"{out}/model",
            "output_manifest": f"{out}/manifest.json",
            "output_metrics": f"{out}/metrics.jsonl",
        },
    }


def eval_losses(path: Path) -> list[float]:
    return [row["eval_loss"] for row in iter_jsonl(path)]


def test_mlm_and_clm_learn_chain_stages_and_write_their_outputs(root, monkeypatch):
    monkeypatch.chdir(root)
    manifests = {}
    for arm, cls in (("encoder", AutoModelForMaskedLM), ("decoder", AutoModelForCausalLM)):
        manifests[arm] = main(make_spec(root, arm, "s1", tag="learn", token_budget=40 * 4 * 32, eval_every_steps=20))
        out = root / "results" / "learn" / arm / "s1"
        losses = eval_losses(out / "metrics.jsonl")
        assert len(losses) == 3 and losses[-1] < losses[0] - 0.5, losses
        assert manifests[arm]["steps"] == 40 and manifests[arm]["tokens_seen"] == 40 * 4 * 32
        assert manifests[arm]["final_val_loss"] == losses[-1]
        assert manifests[arm]["provenance"]["config_hash"]
        model = cls.from_pretrained(str(out / "model"))
        assert model.config.vocab_size == len(AutoTokenizer.from_pretrained(str(out / "model")))
    rows = list(iter_jsonl(root / "results" / "learn" / "encoder" / "s1" / "metrics.jsonl"))
    assert rows[-1]["eval_accuracy"] > rows[0]["eval_accuracy"]
    # Both arms read one token stream.
    assert manifests["encoder"]["token_stream_sha256"] == manifests["decoder"]["token_stream_sha256"]

    # Stage 2 continues from stage 1's final weights: it starts where stage 1 ended, not at random.
    init = "results/learn/encoder/s1/model"
    stage2 = main(
        make_spec(root, "encoder", "s2", tag="learn", init_model=init, token_budget=5 * 4 * 64, eval_every_steps=5)
    )
    first_s2 = eval_losses(root / "results" / "learn" / "encoder" / "s2" / "metrics.jsonl")[0]
    first_s1 = eval_losses(root / "results" / "learn" / "encoder" / "s1" / "metrics.jsonl")[0]
    assert stage2["init"] == init and first_s2 < first_s1 - 0.5


@pytest.mark.parametrize("arm", ["encoder", "decoder"])
def test_a_first_stage_without_init_model_draws_the_seeds_weights_and_trains_them_alike(root, monkeypatch, arm):
    """The first stage of an arm trained from scratch draws its random weights itself: the same
    weights, and the same trained model, as from the saved random init of the same seed."""
    monkeypatch.chdir(root)
    settings = {"token_budget": 6 * 4 * 32, "eval_every_steps": 6}
    main(make_spec(root, arm, "s1", tag="from_saved", **settings))
    spec = make_spec(root, arm, "s1", tag="drawn", **settings)
    spec["paths"]["init_model"] = None
    manifest = main(spec)
    assert manifest["init"] == "random (seed 7)"
    out = root / "results"
    assert same_weights(out / "from_saved" / arm / "s1" / "model", out / "drawn" / arm / "s1" / "model")


def test_both_objectives_consume_identical_token_ids(root, monkeypatch):
    monkeypatch.chdir(root)

    def batch_hashes(arm: str) -> list[str]:
        run = build_run(make_spec(root, arm, "s1", tag="ids"))
        hashes = []
        for batch in run.trainer.get_train_dataloader():
            ids = batch["input_ids"]
            if arm == "encoder":  # undo the masking: masked positions carry the original id as label
                ids = torch.where(batch["labels"] != -100, batch["labels"], ids)
            hashes.append(hashlib.sha256(ids.numpy().astype(np.int64).tobytes()).hexdigest())
        return hashes

    encoder, decoder = batch_hashes("encoder"), batch_hashes("decoder")
    assert len(encoder) == 20 and encoder == decoder


def test_training_order_is_shared_and_loops_only_when_allowed():
    first = training_order(3, 100, 60, False, "here")
    assert sorted(first) == sorted(set(first)) and np.array_equal(first, training_order(3, 100, 60, False, "here"))
    looped = training_order(3, 100, 250, True, "here")
    # A larger budget reads the smaller budget's stream as its prefix, then fresh permutations.
    assert np.array_equal(looped[:60], first) and sorted(looped[100:200]) == list(range(100))
    with pytest.raises(DataError, match="loop_epochs"):
        training_order(3, 100, 101, False, "manifest.json")
    assert TokenBudget.plan(1000, 3.0, 32, 4).steps == 24


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(root, monkeypatch):
    monkeypatch.chdir(root)
    settings = {"token_budget": 160 * 4 * 32, "loop_epochs": True, "checkpoint_every_steps": 10, "eval_every_steps": 80}
    main(make_spec(root, "encoder", tag="straight", **settings))

    spec = make_spec(root, "encoder", tag="killed", **settings)
    kill_at_checkpoint(
        "twinarch.pretrain.run", spec, root, root / "work" / "killed" / "encoder" / "s1" / "checkpoint-20"
    )
    assert not (root / "results" / "killed").exists()

    resumed = main(spec)
    assert resumed["resumed_from"] and resumed["steps"] == 160
    model = Path("encoder") / "s1" / "model"
    assert same_weights(root / "results" / "straight" / model, root / "results" / "killed" / model)


def test_sigterm_saves_a_checkpoint_and_exits_non_zero(root):
    spec = make_spec(
        root, "decoder", tag="term", token_budget=400 * 4 * 32, loop_epochs=True, checkpoint_every_steps=50
    )
    spec_path = root / "term_spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twinarch.pretrain.run", str(spec_path)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    work = root / "work" / "term" / "decoder" / "s1"
    deadline = time.monotonic() + 120
    while (
        not (work / "checkpoint-50" / "trainer_state.json").is_file()
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    time.sleep(1.0)  # a few steps past the scheduled checkpoint
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    steps = sorted(int(p.name.split("-")[1]) for p in work.glob("checkpoint-*"))
    # the checkpoint of the step the signal ended (off the schedule, unless it landed during a
    # scheduled save, which then serves), complete, and said in the log
    assert steps[-1] > 50, steps
    assert f"checkpoint saved at step {steps[-1]} after a signal" in stderr, stderr[-2000:]
    assert (work / f"checkpoint-{steps[-1]}" / "trainer_state.json").is_file()
    assert not (root / "results" / "term").exists()


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(root, monkeypatch):
    monkeypatch.chdir(root)
    import twinarch.pretrain.run as pretrain

    real_load_model = pretrain.load_model

    def poisoned(job, settings):
        model = real_load_model(job, settings)
        calls = {"train": 0}

        def hook(module, args, output):
            if module.training:
                calls["train"] += 1
                if calls["train"] > 12:  # from step 13 on
                    output.loss = output.loss * float("nan")
            return output

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(pretrain, "load_model", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at step 15.*checkpoint-10"):
        main(make_spec(root, "encoder", tag="nan", checkpoint_every_steps=5, log_every_steps=5, eval_every_steps=100))
    work = root / "work" / "nan" / "encoder" / "s1"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]
    assert not (root / "results" / "nan").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(tokenizer_hash="0123456789abcdef"), "tokenized with tokenizer 0123456789abcdef"),
        (lambda m: m.update(vocab_size=m["vocab_size"] + 1), "vocab_size"),
        (lambda m: m.update(seq_len=16), "seq_len 16 differs"),
        (lambda m: m["shards"][0].update(blocks=m["shards"][0]["blocks"] + 1), "does not match the manifest"),
        (lambda m: m.pop("validation"), "lacks keys"),
    ],
)
def test_mismatched_shards_are_refused_before_training(root, monkeypatch, change, message):
    monkeypatch.chdir(root)
    manifest = json.loads((root / "results" / "shards" / "s1" / "manifest.json").read_text(encoding="utf-8"))
    bad = copy.deepcopy(manifest)
    change(bad)
    path = root / "results" / "shards" / "s1" / "bad_manifest.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    spec = make_spec(root, "decoder", tag="bad")
    spec["paths"]["shards_manifest"] = str(path.relative_to(root))
    with pytest.raises(DataError, match=message) as err:
        build_run(spec)
    assert "bad_manifest.json" in str(err.value) or "part_1-of-2.npy" in str(err.value)
    assert not (root / "work" / "bad").exists()


def test_a_budget_beyond_the_shards_needs_loop_epochs(root, monkeypatch):
    monkeypatch.chdir(root)
    with pytest.raises(DataError, match="loop_epochs"):
        build_run(make_spec(root, "decoder", tag="big", token_budget=10**7))


def test_deepspeed_zero2_runs_with_two_cpu_ranks(root, repo_root):
    from twinarch.core.launch import launch

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "torch_extensions"))
    ds_config = str(repo_root / "config" / "deepspeed_zero2.json")
    spec = make_spec(
        root,
        "decoder",
        tag="ds",
        token_budget=6 * 8 * 32,
        deepspeed=ds_config,
        eval_every_steps=3,
        checkpoint_every_steps=3,
        log_every_steps=3,
    )
    cwd = Path.cwd()
    os.chdir(root)
    try:
        launch("twinarch.pretrain.run", spec, root / "ds_spec.json", nproc_per_node=2)
    finally:
        os.chdir(cwd)
    manifest = json.loads((root / "results" / "ds" / "decoder" / "s1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["num_processes"] == 2
    assert manifest["steps"] == 6 and manifest["tokens_seen"] == 6 * 2 * 4 * 32
    assert (root / "work" / "ds" / "decoder" / "s1" / "checkpoint-6").is_dir()
    assert AutoModelForCausalLM.from_pretrained(str(root / "results" / "ds" / "decoder" / "s1" / "model"))
