"""What the ladder tests share: a small study config, the job spec its adapter builds, and the
forward probes of attention direction."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import yaml

from twinarch.ladder.config import operational_settings, run_settings

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "ladder.schema.yaml"
STAGE = "s1"
SEQ_LEN = 32
SEED = 7
# Three layers: one global, two sliding-window layers whose window (4 tokens each way) is far
# shorter than a block, so a probe sees both kinds of mask.
MODELS = {
    "presets": {
        "test-tiny": {"num_hidden_layers": 3, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2}
    },
    "modernbert": {"local_attention": 8},
    "max_position_embeddings": 512,
}
ARMS = [
    {"name": "encoder", "display_name": "Enc", "family": "modernbert", "size": "test-tiny", "steps": [STAGE]},
    {"name": "decoder", "display_name": "Dec", "family": "llama", "size": "test-tiny", "steps": [STAGE]},
]
LADDER = {
    "cross_objective": [
        {"name": "to_mlm", "kind": "continue_mlm", "shards": STAGE, "learning_rate": 1e-2, "per_device_batch_size": 4},
        {"name": "to_clm", "kind": "continue_clm", "shards": STAGE, "learning_rate": 1e-2, "per_device_batch_size": 4},
    ]
}
PRETRAIN = {
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
    "keep_checkpoints": 2,
    "dataloader_workers": 0,
    "threads": 1,
    "stages": [{"name": STAGE, "corpora": ["c"], "seq_len": SEQ_LEN}],
}
STEP_OF_ARM = {"encoder": "to_clm", "decoder": "to_mlm"}


def validated_ladder(section: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The section after Snakemake's validation against its schema (defaults filled)."""
    from snakemake.utils import validate

    wrapper = tmp_path / "wrapper.schema.yaml"
    wrapper.write_text(
        yaml.safe_dump(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"ladder": {"$ref": f"{SCHEMA.as_uri()}#/$defs/ladder"}},
            }
        ),
        encoding="utf-8",
    )
    data = {"ladder": copy.deepcopy(section)}
    validate(data, str(wrapper))
    return data["ladder"]


def study_config(ladder: dict[str, Any]) -> dict[str, Any]:
    """The few sections a cross-objective job reads (the ladder one already validated)."""
    return {
        "arms": copy.deepcopy(ARMS),
        "pretrain": copy.deepcopy(PRETRAIN),
        "device": {"dtype": "auto", "attn_implementation": "auto"},
        "seeds": [SEED],
        "ladder": ladder,
    }


def make_spec(config: dict[str, Any], arm: str, tag: str, **step_settings: Any) -> dict[str, Any]:
    """A job spec as workflow/scripts/continue_cross_objective.py builds it: run settings,
    operational settings, threads, paths (relative to the test's workflow root)."""
    config = copy.deepcopy(config)
    step = STEP_OF_ARM[arm]
    entry = next(s for s in config["ladder"]["cross_objective"] if s["name"] == step)
    entry.update(step_settings)
    out = f"results/{tag}/{arm}/{step}"
    return {
        **run_settings(config, arm, step, SEED),
        "operational": operational_settings(config, step),
        "threads": 1,
        "paths": {
            "shards_manifest": f"results/shards/{STAGE}/manifest.json",
            "tokenizer_dir": "results/tokenizer",
            "model_config": f"results/models/{arm}/config.json",
            "init_model": f"results/pretrain/{arm}/seed_{SEED}/init/model",
            "work_dir": f"work/{tag}/{arm}/{step}",
            "output_model": f"{out}/model",
            "output_manifest": f"{out}/manifest.json",
            "output_metrics": f"{out}/metrics.jsonl",
        },
    }


@torch.no_grad()
def moved_states(network: torch.nn.Module, position: int, length: int = SEQ_LEN) -> tuple[bool, bool]:
    """Change the token at `position`: (did any earlier hidden state move, did its own move)."""
    vocab = network.config.vocab_size
    ids = torch.randint(10, vocab, (2, length), generator=torch.Generator().manual_seed(position))
    changed = ids.clone()
    changed[:, position] = (ids[:, position] + 1) % vocab
    was_training = network.training
    network.eval()
    try:
        before, after = (
            network(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state for x in (ids, changed)
        )
    finally:
        network.train(was_training)
    earlier = not torch.allclose(before[:, :position], after[:, :position], atol=1e-6)
    return earlier, not torch.allclose(before[:, position], after[:, position])


def is_causal(model: torch.nn.Module) -> bool:
    """Causal: no change of a later token (at the block's middle and end) moves an earlier state,
    and the changed token's own state moves."""
    network = model.base_model
    probes = [moved_states(network, position) for position in (SEQ_LEN // 2, SEQ_LEN - 1)]
    return all(own and not earlier for earlier, own in probes)


def is_bidirectional(model: torch.nn.Module) -> bool:
    """Bidirectional: changing the last token moves the first tokens' states."""
    earlier, _ = moved_states(model.base_model, SEQ_LEN - 1)
    return earlier
