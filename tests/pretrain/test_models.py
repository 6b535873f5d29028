"""Model families, size presets and parameter matching (all on the meta device: no weights, fast)."""

from __future__ import annotations

import pandas as pd
import pytest
from transformers import AutoConfig, AutoTokenizer

from twinarch.core.config import ConfigError, load_config
from twinarch.pretrain.models import (
    ETTIN_LADDER,
    PRESETS,
    MatchTarget,
    arm_model_config,
    build_model_config,
    count_config_parameters,
    match_shapes,
    non_embedding_params,
    shape_for,
    write_model_config,
    write_param_counts,
)


def relative_gap(a: int, b: int) -> float:
    return abs(a - b) / max(a, b)


def test_paper_pair_is_matched_within_one_percent(repo_root):
    models = load_config(repo_root / "config" / "paper.yaml")["models"]
    counts = {
        family: non_embedding_params(family, shape_for(family, "paper-0.5b", models), models.get(family, {}))
        for family in ("modernbert", "llama")
    }
    assert relative_gap(counts["modernbert"], counts["llama"]) <= 0.01
    for count in counts.values():
        assert abs(count - 500_000_000) / 500_000_000 <= 0.01
    # The decoder keeps grouped-query attention, so its MLP is wider than the encoder's.
    assert (
        shape_for("llama", "paper-0.5b", models).intermediate
        > shape_for("modernbert", "paper-0.5b", models).intermediate
    )


@pytest.mark.parametrize("size", sorted(ETTIN_LADDER))
def test_ettin_ladder_sizes_are_matched_within_one_percent(size):
    shape = ETTIN_LADDER[size]
    # At one shape with full multi-head attention the two families have identical counts.
    assert non_embedding_params("modernbert", shape) == non_embedding_params("llama", shape)
    # With a grouped-query decoder the matcher must change its MLP width to keep them equal, at the
    # ladder's own depth (the smallest sizes need a fine width grid for that) and with a free depth.
    models = {"llama": {"num_key_value_heads": shape.heads // 2}}
    target = non_embedding_params("modernbert", shape)
    for layers in (shape.layers, None):
        spec = MatchTarget(
            target,
            shape.hidden,
            shape.heads,
            layers=layers,
            mlp_ratio=shape.intermediate / shape.hidden,
            intermediate_multiple=8,
        )
        shapes = match_shapes(spec, models=models)
        counts = {f: non_embedding_params(f, s, models.get(f, {})) for f, s in shapes.items()}
        assert relative_gap(counts["modernbert"], counts["llama"]) <= 0.01
        assert all(abs(c - target) / target <= 0.01 for c in counts.values())
        if layers:
            assert {s.layers for s in shapes.values()} == {layers}


def test_ettin_ladder_sizes_are_what_their_names_say():
    approx = {
        "ettin-17m": 17e6,
        "ettin-32m": 32e6,
        "ettin-68m": 68e6,
        "ettin-150m": 150e6,
        "ettin-400m": 400e6,
        "ettin-1b": 1e9,
    }
    ids = {
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "cls_token_id": 1,
        "sep_token_id": 2,
        "mask_token_id": 3,
    }
    from twinarch.pretrain.models import _family_config

    for name, shape in ETTIN_LADDER.items():
        # Ettin counts its ModernBERT vocabulary of 50,368 tokens.
        counts = count_config_parameters(_family_config("modernbert", shape, {}, 50368, ids, 8192))
        assert 0.85 <= counts.total / approx[name] <= 1.15, (name, counts)


def test_tiny_presets_fit_their_budgets():
    assert 0.5e6 <= non_embedding_params("modernbert", PRESETS["demo-tiny"]) <= 1e6
    assert 2e6 <= non_embedding_params("llama", PRESETS["jmini-small"]) <= 6e6


def test_configs_use_the_shared_tokenizer_and_round_trip(tiny_tokenizer_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    for family, arch in (("modernbert", "ModernBertForMaskedLM"), ("llama", "LlamaForCausalLM")):
        arm = {"name": family, "family": family, "size": "demo-tiny"}
        config = arm_model_config(arm, {}, tiny_tokenizer_dir)
        write_model_config(config, tmp_path / family / "config.json")
        loaded = AutoConfig.from_pretrained(str(tmp_path / family))
        assert loaded.architectures == [arch]
        assert loaded.vocab_size == len(tokenizer)
        assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (
            tokenizer.pad_token_id,
            tokenizer.bos_token_id,
            tokenizer.eos_token_id,
        )
    encoder = AutoConfig.from_pretrained(str(tmp_path / "modernbert"))
    assert (encoder.cls_token_id, encoder.sep_token_id, encoder.mask_token_id) == (
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
        tokenizer.mask_token_id,
    )
    assert max(encoder.pad_token_id, encoder.cls_token_id, encoder.mask_token_id) < encoder.vocab_size

    prefix = tmp_path / "param_counts"
    write_param_counts(
        {"encoder": tmp_path / "modernbert" / "config.json", "decoder": tmp_path / "llama" / "config.json"}, prefix
    )
    table = pd.read_csv(prefix.with_suffix(".csv"))
    assert list(table.columns[:9]) == [
        "arm",
        "family",
        "layers",
        "hidden",
        "intermediate",
        "heads",
        "embedding_params",
        "non_embedding_params",
        "total_params",
    ]
    assert (table.total_params == table.embedding_params + table.non_embedding_params).all()
    assert table.non_embedding_params.nunique() == 1
    assert (table.embedding_params == len(tokenizer) * PRESETS["demo-tiny"].hidden).all()


def test_bad_sizes_and_settings_fail_naming_the_key(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    with pytest.raises(ConfigError, match="unknown model size 'huge'"):
        build_model_config("llama", "huge", tokenizer, {})
    with pytest.raises(ConfigError, match="models.llama.num_key_valu_heads"):
        build_model_config("llama", "demo-tiny", tokenizer, {"llama": {"num_key_valu_heads": 2}})
    with pytest.raises(ConfigError, match="models.match"):
        build_model_config("llama", "matched", tokenizer, {})
    with pytest.raises(ConfigError, match="num_key_value_heads"):
        build_model_config("llama", "demo-tiny", tokenizer, {"llama": {"num_key_value_heads": 3}})


def test_matched_size_and_configured_presets(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    models = {
        "match": {
            "target_non_embedding_params": 2_000_000,
            "hidden_size": 128,
            "num_attention_heads": 4,
            "intermediate_multiple": 8,
        },
        "llama": {"num_key_value_heads": 1},
        "presets": {
            "mine": {"num_hidden_layers": 3, "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 2}
        },
    }
    encoder = count_config_parameters(build_model_config("modernbert", "matched", tokenizer, models))
    decoder = count_config_parameters(build_model_config("llama", "matched", tokenizer, models))
    assert relative_gap(encoder.non_embedding, decoder.non_embedding) <= 0.01
    assert build_model_config("llama", "mine", tokenizer, models).num_hidden_layers == 3
