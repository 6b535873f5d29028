"""Cross-objective continued training through the pretraining script: an encoder under continue_clm
attends causally (global and sliding-window layers) and learns the shifted loss, a decoder under
continue_mlm attends bidirectionally and learns the unshifted one; each keeps its direction as
documented after reload; the warmup-stable-decay schedule ends at 0.02 of the peak; and both resume
after a SIGKILL to the weights of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kill_resume import kill_at_checkpoint, same_weights
from ladder_setup import SEED, is_bidirectional, is_causal, make_spec
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from twinarch.core.io import iter_jsonl
from twinarch.ladder.config import LossSettings
from twinarch.ladder.losses import validation_losses
from twinarch.pretrain.run import build_run, main, use_objective

MASKING = {"mask_replace_prob": 0.8, "random_replace_prob": 0.1}
DEVICE = {"dtype": "auto", "attn_implementation": "auto"}


def losses_like_the_run(model_dir: str, family: str, blocks: int) -> dict:
    """Both losses on the run's own validation set (its first blocks, masked with its seed)."""
    settings = LossSettings(mlm_probability=0.15, max_blocks=blocks)
    return validation_losses(model_dir, family, "results/shards/s1/manifest.json", settings, MASKING, SEED, DEVICE)


def test_an_encoder_under_continue_clm_is_causal_learns_the_shifted_loss_and_reloads_bidirectional(root, ladder_config):
    spec = make_spec(ladder_config, "encoder", "clm", token_budget=40 * 4 * 32, eval_every_steps=20)
    run = build_run(spec)
    assert is_causal(run.trainer.model) and run.trainer.model.loss_type == "ForCausalLM"

    manifest = main(spec)
    out = root / "results" / "clm" / "encoder" / "to_clm"
    rows = list(iter_jsonl(out / "metrics.jsonl"))
    assert manifest["objective"] == "clm" and manifest["steps"] == 40
    assert rows[-1]["eval_loss"] < rows[0]["eval_loss"] - 0.5, rows
    assert "eval_accuracy" not in rows[-1]  # no masked positions to score

    # Saved as a plain ModernBERT, which reloads bidirectional (what embedding training uses) ...
    reloaded = AutoModelForMaskedLM.from_pretrained(str(out / "model"))
    assert is_bidirectional(reloaded)
    # ... and is the trained causal model again once its masks are made causal: the same weights
    # give the run's own final validation loss (every evaluation batch scores as many tokens).
    assert is_causal(use_objective(reloaded, "clm"))
    assert losses_like_the_run(str(out / "model"), "modernbert", 16)["clm_loss"] == pytest.approx(
        manifest["final_val_loss"], abs=1e-4
    )


def test_a_decoder_under_continue_mlm_is_bidirectional_learns_the_unshifted_loss_and_stays_so(root, ladder_config):
    init = f"results/pretrain/decoder/seed_{SEED}/init/model"
    assert is_causal(AutoModelForCausalLM.from_pretrained(init))
    spec = make_spec(ladder_config, "decoder", "mlm", token_budget=80 * 4 * 32, eval_every_steps=40)
    # One evaluation batch: the Trainer's eval_loss averages batch means, which with masks of
    # different counts per batch is not the mean over masked tokens.
    spec["pretrain"]["eval_max_blocks"] = 4
    run = build_run(spec)
    assert is_bidirectional(run.trainer.model) and run.trainer.model.loss_type == "ForMaskedLM"

    manifest = main(spec)
    out = root / "results" / "mlm" / "decoder" / "to_mlm"
    rows = list(iter_jsonl(out / "metrics.jsonl"))
    assert manifest["objective"] == "mlm" and manifest["steps"] == 80
    assert rows[-1]["eval_loss"] < rows[0]["eval_loss"] - 0.3, rows
    assert all(0.0 <= r["eval_accuracy"] <= 1.0 for r in rows)  # scored at the masked positions

    config = json.loads((out / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["is_causal"] is False and config["architectures"] == ["LlamaForCausalLM"]
    assert is_bidirectional(AutoModelForCausalLM.from_pretrained(str(out / "model")))
    # The run scored the masked token at its own position (no shift): the unshifted loss of the
    # saved model on the same masks is the run's final validation loss.
    assert losses_like_the_run(str(out / "model"), "llama", 4)["mlm_loss"] == pytest.approx(
        manifest["final_val_loss"], abs=1e-4
    )


def test_the_schedule_warms_up_holds_and_decays_linearly_to_a_fiftieth_of_the_peak(root, ladder_config):
    run = build_run(make_spec(ladder_config, "decoder", "wsd", token_budget=100 * 4 * 32))
    steps = run.budget.steps
    assert steps == 100
    run.trainer.create_optimizer_and_scheduler(num_training_steps=steps)
    scheduler = run.trainer.lr_scheduler
    rates = []
    for _ in range(steps + 1):
        rates.append(scheduler.get_last_lr()[0])
        run.trainer.optimizer.step()
        scheduler.step()
    peak = 1e-2
    assert rates[0] < 0.1 * peak and rates[5] < peak  # 6 warmup steps (Ettin: 6%)
    assert all(r == pytest.approx(peak) for r in rates[6:80])  # stable until the last 20%
    assert all(a > b for a, b in zip(rates[80:100], rates[81:101], strict=True))  # linear decay
    assert rates[100] == pytest.approx(0.02 * peak)


@pytest.mark.parametrize("arm", ["encoder", "decoder"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(root, ladder_config, arm):
    settings = {"token_budget": 160 * 4 * 32, "eval_every_steps": 80, "checkpoint_every_steps": 10}
    main(make_spec(ladder_config, arm, "straight", **settings))

    spec = make_spec(ladder_config, arm, "killed", **settings)
    kill_at_checkpoint("twinarch.pretrain.run", spec, root, root / spec["paths"]["work_dir"] / "checkpoint-20")
    assert not (root / "results" / "killed").exists()

    resumed = main(spec)
    assert resumed["resumed_from"] and resumed["steps"] == 160
    model = Path(arm) / spec["stage"]["name"] / "model"
    assert same_weights(root / "results" / "straight" / model, root / "results" / "killed" / model)
