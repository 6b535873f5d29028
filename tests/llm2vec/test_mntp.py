"""MNTP with a tiny Llama on real Japanese shards: the loss is the shifted masked loss, the masks
depend on the data only, the model stays bidirectional, LoRA runs save merged plain weights, and a
killed run resumes to the weights of an uninterrupted one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from kill_resume import kill_at_checkpoint, same_weights
from safetensors.torch import load_file
from tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)
from tiny_shards import INIT, STAGE, is_bidirectional
from transformers import AutoTokenizer, LlamaForCausalLM

from twinarch.core.io import DataError, iter_jsonl
from twinarch.llm2vec.config import MntpStep
from twinarch.llm2vec.mntp import masking_tokenizer, mntp_collator
from twinarch.llm2vec.run_mntp import main


def make_spec(tag: str = "run", **step_settings) -> dict:
    """A job spec as the workflow's adapter builds it: run settings, operational settings, paths."""
    step = {
        "name": "mntp",
        "kind": "mntp",
        "shards": STAGE,
        "seq_len": 32,
        "max_steps": 100,
        "per_device_batch_size": 4,
        "learning_rate": 1e-2,
        "eval_every_steps": 50,
        "lr_scheduler": "constant",
        "eval_max_blocks": 16,
        **step_settings,
    }
    operational = {
        k: step.pop(k, default)
        for k, default in (("checkpoint_every_steps", 50), ("log_every_steps", 10), ("keep_checkpoints", 2))
    }
    out = f"results/{tag}/decoder/mntp"
    return {
        "arm": {"name": "decoder", "family": "llama"},
        "step": step,
        "operational": operational,
        "device": {"dtype": "auto", "attn_implementation": "auto"},
        "seed": 3,
        "threads": 1,
        "paths": {
            "init_model": INIT,
            "shards_manifest": f"results/shards/{STAGE}/manifest.json",
            "work_dir": f"work/{tag}/decoder/mntp",
            "output_model": f"{out}/model",
            "output_manifest": f"{out}/manifest.json",
            "output_metrics": f"{out}/metrics.jsonl",
        },
    }


def test_the_loss_scores_each_masked_token_from_the_previous_position(root):
    model = LlamaForCausalLM.from_pretrained(INIT)
    model.config.is_causal = False
    model.eval()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, model.config.vocab_size, (2, 12), generator=generator)
    labels = torch.full_like(ids, -100)
    masked = [(0, 0), (0, 3), (0, 7), (1, 1), (1, 11)]  # (0, 0) cannot be predicted: nothing precedes it
    for row, col in masked:
        labels[row, col] = ids[row, col]
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    log_probs = torch.log_softmax(out.logits.float(), dim=-1)
    scored = [(r, c) for r, c in masked if c > 0]
    reference = -torch.stack([log_probs[r, c - 1, ids[r, c]] for r, c in scored]).mean()
    assert torch.allclose(out.loss, reference, atol=1e-6), (out.loss, reference)

    # Position 0 cannot be predicted: whatever its label says, the loss stays the same.
    other = labels.clone()
    other[0, 0] = (ids[0, 0] + 1) % model.config.vocab_size
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids, labels=other).loss, reference, atol=1e-6)


def test_masks_skip_position_0_and_special_tokens_and_depend_on_the_data_only(root):
    tokenizer = AutoTokenizer.from_pretrained(INIT)
    step = MntpStep(name="mntp", shards=STAGE, mlm_probability=0.5)
    ids = torch.randint(10, len(tokenizer), (64, 32), generator=torch.Generator().manual_seed(1))
    ids[:, 10] = tokenizer.eos_token_id
    features = [{"input_ids": row, "stream_index": 40 + i} for i, row in enumerate(ids)]
    batch = mntp_collator(tokenizer, step, seed=3)(features)
    masked = batch["labels"] != -100
    assert not masked[:, 0].any() and not masked[:, 10].any()
    assert torch.equal(batch["labels"][masked], ids[masked])
    assert 0.4 < masked[:, 1:].float().mean() < 0.6
    blank = masking_tokenizer(tokenizer, "blank").mask_token_id
    assert blank != tokenizer.mask_token_id and (batch["input_ids"][masked] == blank).float().mean() > 0.7
    again = mntp_collator(tokenizer, step, seed=3)([dict(f) for f in features])
    assert torch.equal(again["input_ids"], batch["input_ids"])

    # LLM2Vec's Mistral recipe: 80% masked, every masked token replaced by the mask token.
    all_mask = MntpStep(
        name="mntp", shards=STAGE, mask_token="eos", mlm_probability=0.8, mask_replace_prob=1.0, random_replace_prob=0.0
    )
    batch = mntp_collator(tokenizer, all_mask, seed=3)(features)
    masked = batch["labels"] != -100
    assert 0.7 < masked[:, 1:].float().mean() < 0.9
    assert (batch["input_ids"][masked] == tokenizer.eos_token_id).all()


def test_a_mask_token_outside_the_vocabulary_is_refused(root):
    tokenizer = AutoTokenizer.from_pretrained(INIT)
    tokenizer.mask_token = None
    with pytest.raises(DataError, match="no mask token"):
        masking_tokenizer(tokenizer, "mask")


def test_mntp_learns_stays_bidirectional_and_writes_pretraining_like_outputs(root):
    manifest = main(make_spec())
    out = root / "results" / "run" / "decoder" / "mntp"
    rows = list(iter_jsonl(out / "metrics.jsonl"))
    assert [r["step"] for r in rows] == [0, 50, 100]
    # 100 steps on a 2-layer model: the held-out loss falls steadily (by about 0.3 nats here).
    assert rows[-1]["eval_loss"] < rows[1]["eval_loss"] < rows[0]["eval_loss"] - 0.1, rows
    assert all(0.0 <= r["eval_accuracy"] <= 1.0 for r in rows)
    assert manifest["steps"] == 100 and manifest["tokens_seen"] == 100 * 4 * 32
    assert manifest["final_val_loss"] == rows[-1]["eval_loss"] and manifest["provenance"]["config_hash"]
    assert manifest["training"] == "full"
    config = json.loads((out / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["is_causal"] is False and config["architectures"] == ["LlamaForCausalLM"]
    assert is_bidirectional(out / "model") and not is_bidirectional(INIT)
    # The arm's tokenizer is saved as it was: the blank mask token only fed the collator.
    assert AutoTokenizer.from_pretrained(str(out / "model")).mask_token == "<mask>"


def test_a_lora_run_saves_merged_weights_that_load_as_a_plain_model(root):
    spec = make_spec(tag="lora", lora={"r": 4, "alpha": 8, "dropout": 0.0}, max_steps=6, eval_every_steps=6)
    spec["operational"]["checkpoint_every_steps"] = 3
    manifest = main(spec)
    out = root / "results" / "lora" / "decoder" / "mntp" / "model"
    assert manifest["training"] == {"lora_r": 4, "lora_alpha": 8, "merged": True}
    assert not (out / "adapter_config.json").exists()
    before, after = load_file(Path(INIT) / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    projections = {k for k in before if k.endswith("proj.weight")}
    assert changed == projections  # adapters touch every projection and nothing else
    model = LlamaForCausalLM.from_pretrained(str(out))
    assert type(model) is LlamaForCausalLM and model.config.is_causal is False
    assert is_bidirectional(out)

    # The Trainer resumes adapters (and their optimizer state) from an adapter checkpoint.
    shutil.rmtree(root / "work" / "lora" / "decoder" / "mntp" / "checkpoint-6")
    shutil.rmtree(root / "results" / "lora")
    resumed = main(spec)
    assert resumed["resumed_from"].endswith("checkpoint-3")
    again = load_file(out / "model.safetensors")
    assert all(torch.equal(after[k], again[k]) for k in after)


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(root):
    settings = {"max_steps": 60, "loop_epochs": True, "checkpoint_every_steps": 10, "eval_every_steps": 30}
    main(make_spec(tag="straight", **settings))

    spec = make_spec(tag="killed", **settings)
    kill_at_checkpoint(
        "twinarch.llm2vec.run_mntp", spec, root, root / "work" / "killed" / "decoder" / "mntp" / "checkpoint-20"
    )
    assert not (root / "results" / "killed").exists()

    resumed = main(spec)
    assert resumed["resumed_from"] and resumed["steps"] == 60
    model = Path("decoder") / "mntp" / "model"
    assert same_weights(root / "results" / "straight" / model, root / "results" / "killed" / model)
