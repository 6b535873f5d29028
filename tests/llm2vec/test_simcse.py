"""Unsupervised SimCSE with a tiny bidirectional Llama on real Japanese sentences: each batch holds
each sentence twice and nothing else twice, GradCache replays the dropout of its first pass, and the
saved network is a plain bidirectional model with its dropout off that the embed stage can wrap."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)
from tiny_models import one_torch_thread, tiny_arm  # noqa: F401 (autouse fixture)
from tiny_shards import INIT, is_bidirectional
from transformers import LlamaModel

from twinarch.core.device import resolve_device_settings
from twinarch.embed.model import build_embedding_model
from twinarch.embed.run import build_trainer
from twinarch.llm2vec.config import SimcseStep
from twinarch.llm2vec.run_simcse import main, sentence_pairs
from twinarch.llm2vec.simcse import corpus_sentences, set_attention_dropout

ARM = tiny_arm("llama", name="decoder")


@pytest.fixture()
def corpora(shared_data) -> dict:
    """Resolved `config.corpora` entries, as the rule hands them to the job."""
    return {
        "jaquad": {
            "type": "local",
            "path": str(shared_data / "jaquad" / "jaquad_dev_passages.jsonl"),
            "max_documents": 60,
        },
        "livedoor": {
            "type": "local",
            "path": str(shared_data / "livedoor" / "livedoor_news.jsonl"),
            "text_field": "body",
            "max_documents": 20,
        },
    }


def make_spec(corpora: dict, tag: str = "run", **step_settings) -> dict:
    step = {
        "name": "simcse",
        "kind": "simcse",
        "corpora": sorted(corpora),
        "max_sentences": 400,
        "max_seq_length": 32,
        "per_device_batch_size": 16,
        "mini_batch_size": 8,
        "learning_rate": 1e-3,
        "max_steps": 8,
        **step_settings,
    }
    out = f"results/{tag}/decoder/simcse"
    return {
        "arm": {"name": "decoder", "family": "llama", "bidirectional": True, "pooling": "mean"},
        "step": step,
        "operational": {"save_steps": 4, "logging_steps": 2},
        "seed": 3,
        "device": {"dtype": "auto", "attn_implementation": "auto"},
        "threads": 1,
        "corpora": corpora,
        "init_model": INIT,
        "work_dir": f"work/{tag}/decoder/simcse",
        "out_model": f"{out}/model",
        "out_manifest": f"{out}/manifest.json",
    }


def test_sentences_are_distinct_long_enough_and_seeded(root, corpora):
    first = corpus_sentences(corpora, 300, 10, seed=1)
    assert len(first) == len(set(first)) == 300 and min(map(len, first)) >= 10
    assert first == corpus_sentences(corpora, 300, 10, seed=1) and first != corpus_sentences(corpora, 300, 10, seed=2)


def test_every_batch_holds_each_sentence_twice_and_nothing_else_twice(root, corpora):
    step = SimcseStep(name="simcse", corpora=tuple(corpora), max_seq_length=32, per_device_batch_size=16)
    model = build_embedding_model(INIT, ARM, max_seq_length=32, normalize=False)
    sentences = corpus_sentences(corpora, 100, 10, seed=0)
    trainer = build_trainer(
        model, sentence_pairs(sentences), step.embed_stage(), "work/batches", 0, resolve_device_settings({})
    )
    batches = list(trainer.get_train_dataloader())
    assert sum(len(b["anchor_input_ids"]) for b in batches) == 100
    for batch in batches:
        anchors, positives = batch["anchor_input_ids"], batch["positive_input_ids"]
        assert torch.equal(anchors, positives)
        assert len(torch.unique(anchors, dim=0)) == len(anchors)


def test_gradient_caching_replays_the_dropout_of_its_first_pass(root, corpora):
    """With one mini-batch per batch the cached loss consumes the random stream as the plain loss
    does, so their gradients agree only if the second (gradient) pass reuses the first's masks."""
    sentences = corpus_sentences(corpora, 8, 10, seed=0)
    features = []
    grads = []
    for loss_class, kwargs in (
        (MultipleNegativesRankingLoss, {}),
        (CachedMultipleNegativesRankingLoss, {"mini_batch_size": 8}),
    ):
        model = build_embedding_model(INIT, ARM, max_seq_length=32, normalize=False)
        set_attention_dropout(model[0].auto_model, 0.3)
        model.train()
        features = [model.tokenize(sentences), model.tokenize(sentences)]
        loss = loss_class(model, scale=20.0, **kwargs)
        torch.manual_seed(11)
        loss(features, None).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5)
    # and the dropout is real: without it the gradient differs
    model = build_embedding_model(INIT, ARM, max_seq_length=32, normalize=False)
    model.train()
    MultipleNegativesRankingLoss(model, scale=20.0)(features, None).backward()
    plain = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert not torch.allclose(plain, grads[0], atol=1e-5)


def test_simcse_trains_and_saves_a_plain_bidirectional_network_without_dropout(root, corpora):
    manifest = main(make_spec(corpora))
    out = root / "results" / "run" / "decoder" / "simcse" / "model"
    assert manifest["steps"] == 8 and manifest["sentences"] == 400 and manifest["loss_scale"] == pytest.approx(20.0)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["is_causal"] is False and config["attention_dropout"] == 0.0
    assert config["architectures"] == ["LlamaModel"]
    assert is_bidirectional(out)
    network = LlamaModel.from_pretrained(str(out))
    assert all(m.attention_dropout == 0.0 for m in network.modules() if hasattr(m, "attention_dropout"))
    before = load_file(f"{INIT}/model.safetensors")
    after = load_file(out / "model.safetensors")
    assert not torch.equal(before["model.layers.0.self_attn.q_proj.weight"], after["layers.0.self_attn.q_proj.weight"])
    # The embed stage's base step wraps it like any pretrained network.
    assert build_embedding_model(out, ARM, max_seq_length=32, normalize=False).encode(["テスト"]).shape == (1, 32)


def test_a_lora_simcse_run_saves_merged_weights(root, corpora):
    manifest = main(make_spec(corpora, tag="lora", lora={"r": 4, "alpha": 8, "dropout": 0.0}, max_steps=4))
    out = root / "results" / "lora" / "decoder" / "simcse" / "model"
    assert manifest["training"] == {"lora_r": 4, "lora_alpha": 8, "merged": True}
    assert not (out / "adapter_config.json").exists()
    before, after = load_file(f"{INIT}/model.safetensors"), load_file(out / "model.safetensors")
    assert {f"model.{k}" for k in after} == set(before) - {"lm_head.weight"}  # no adapter left over
    changed = {k for k in after if not torch.equal(before[f"model.{k}"], after[k])}
    assert changed == {k for k in after if k.endswith("proj.weight")}  # only the adapted projections
    assert type(LlamaModel.from_pretrained(str(out))) is LlamaModel and is_bidirectional(out)


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(root, corpora):
    """Resuming replays the data order and the dropout masks (the checkpoint holds the RNG state)."""
    settings = {"max_steps": 20, "max_sentences": 200}
    straight = make_spec(corpora, tag="straight", **settings)
    straight["operational"]["save_steps"] = 5
    main(straight)

    spec = make_spec(corpora, tag="killed", **settings)
    spec["operational"]["save_steps"] = 5
    spec_path = root / "killed_spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twinarch.llm2vec.run_simcse", str(spec_path)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = root / "work" / "killed" / "decoder" / "simcse" / "checkpoint-10"
    deadline = time.monotonic() + 120
    while not checkpoint.is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    resumed = main(spec)
    assert resumed["resumed_from"] and resumed["steps"] == 20
    a = load_file(root / "results" / "straight" / "decoder" / "simcse" / "model" / "model.safetensors")
    b = load_file(root / "results" / "killed" / "decoder" / "simcse" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
