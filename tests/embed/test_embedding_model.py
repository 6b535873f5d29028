"""The bidirectional switch, padding invariance, pooling choice and save/reload of embedding models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_models import one_torch_thread, save_tiny_pretrained, tiny_arm  # noqa: F401 (autouse fixture)

from twinarch.embed.model import (
    attends_to_later_tokens,
    build_embedding_model,
    check_attention_direction,
    load_embedding_model,
    save_embedding_model,
)

TEXTS = ["東京は日本の首都である。", "猫が窓辺で眠っている。", "明日の天気は雨の予報です。"]


@pytest.fixture(scope="module")
def pretrained_dirs(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pretrained")
    return {f: save_tiny_pretrained(f, tiny_tokenizer_dir, root / f) for f in ("modernbert", "llama")}


def hidden_states(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model[0].auto_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


@pytest.mark.parametrize(
    ("family", "bidirectional", "expect_moves"),
    [("llama", True, True), ("llama", False, False), ("modernbert", True, True)],
)
def test_later_token_moves_earlier_state_only_when_bidirectional(pretrained_dirs, family, bidirectional, expect_moves):
    arm = tiny_arm(family, bidirectional=bidirectional)
    model = build_embedding_model(pretrained_dirs[family], arm, max_seq_length=64, normalize=False)
    ids = torch.tensor([[20, 21, 22, 23, 24, 25]])
    changed = ids.clone()
    changed[0, -1] = 26
    mask = torch.ones_like(ids)
    first = hidden_states(model, ids, mask)[0, :3]
    second = hidden_states(model, changed, mask)[0, :3]
    assert (not torch.allclose(first, second)) is expect_moves
    assert attends_to_later_tokens(model) is expect_moves


@pytest.mark.parametrize("family", ["llama", "modernbert"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_tokens_never_change_non_pad_states(pretrained_dirs, family, side):
    model = build_embedding_model(pretrained_dirs[family], tiny_arm(family), max_seq_length=64, normalize=False)
    pad = model.tokenizer.pad_token_id
    real = torch.tensor([[30, 31, 32, 33]])
    alone = hidden_states(model, real, torch.ones_like(real))[0]
    pads = torch.full((1, 3), pad)
    padded = torch.cat([real, pads] if side == "right" else [pads, real], dim=1)
    mask = (torch.arange(7) < 4) if side == "right" else (torch.arange(7) >= 3)
    states = hidden_states(model, padded, mask.long().unsqueeze(0))[0]
    kept = states[:4] if side == "right" else states[3:]
    # Position ids differ under left padding only for position-embedding models without an
    # offset: both families here use RoPE, which depends on relative positions only.
    torch.testing.assert_close(kept, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("pooling", ["mean", "lasttoken", "weightedmean", "cls"])
def test_save_reload_gives_identical_embeddings_and_keeps_the_switch(pretrained_dirs, tmp_path, pooling):
    arm = tiny_arm("llama", pooling=pooling)
    model = build_embedding_model(pretrained_dirs["llama"], arm, max_seq_length=32, normalize=True)
    before = model.encode(TEXTS, convert_to_tensor=True, batch_size=2)
    out = save_embedding_model(model, tmp_path / "model")
    assert json.loads((out / "config.json").read_text())["is_causal"] is False
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode"] == pooling
    reloaded = load_embedding_model(out)
    after = reloaded.encode(TEXTS, convert_to_tensor=True, batch_size=3)
    torch.testing.assert_close(before, after, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(after.norm(dim=-1), torch.ones(len(TEXTS)))
    assert reloaded.max_seq_length == 32
    check_attention_direction(reloaded, arm)


def test_a_causal_model_for_a_bidirectional_arm_is_refused(pretrained_dirs):
    causal = build_embedding_model(
        pretrained_dirs["llama"], tiny_arm("llama", bidirectional=False), max_seq_length=16, normalize=False
    )
    with pytest.raises(RuntimeError, match="not bidirectional"):
        check_attention_direction(causal, tiny_arm("llama", bidirectional=True))
