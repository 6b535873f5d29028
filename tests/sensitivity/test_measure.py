"""Per-position sensitivity on tiny random models: what each measure must show by construction,
that padding never enters, integrated gradients' completeness, and the attention probe."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from tiny_models import one_torch_thread, save_tiny_pretrained, tiny_arm  # noqa: F401

from twinarch.core.config import ConfigError
from twinarch.core.device import DeviceSettings
from twinarch.core.io import DataError, atomic_write_jsonl, iter_jsonl, read_json
from twinarch.embed.model import build_embedding_model, save_embedding_model
from twinarch.sensitivity.config import HEAD_TOKENS, INTEGRATED_GRADIENTS, OCCLUSION, SensitivitySettings
from twinarch.sensitivity.measure import (
    Variant,
    check_attention,
    cut_documents,
    embed,
    integrated_gradients,
    load_causal,
    load_saved,
    measure_sensitivity,
    model_variants,
    occluded_positions,
    occlusion,
    occlusion_token_id,
)

CPU = DeviceSettings("cpu", torch.float32, "sdpa")
LENGTH = 24


@pytest.fixture(scope="module")
def passages(shared_data: Path) -> list[str]:
    rows = iter_jsonl(shared_data / "jaquad" / "jaquad_dev_passages.jsonl")
    return [row["text"] for _, row in zip(range(40), rows)]


def saved_model(tokenizer_dir: Path, root: Path, family: str, bidirectional: bool, pooling: str = "mean") -> Path:
    pretrained = save_tiny_pretrained(family, tokenizer_dir, root / f"{family}_pretrained")
    arm = tiny_arm(family, bidirectional=bidirectional, pooling=pooling)
    model = build_embedding_model(pretrained, arm, max_seq_length=128, normalize=False)
    return save_embedding_model(model, root / f"{family}_{'bi' if bidirectional else 'causal'}" / "model")


@pytest.fixture(scope="module")
def decoder_dir(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decoder made bidirectional (mean pooling), as the embed stage saves it."""
    return saved_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("decoder"), "llama", bidirectional=True)


@pytest.fixture(scope="module")
def encoder_dir(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("encoder"), "modernbert", bidirectional=True)


@pytest.fixture(scope="module")
def documents(decoder_dir: Path, passages: list[str]) -> list[torch.Tensor]:
    model = load_saved(decoder_dir, "cpu")
    return [ids for _, ids in cut_documents(model[0].tokenizer, passages, LENGTH)[:4]]


def unk(model) -> int:
    return occlusion_token_id(model[0].tokenizer, "unk_token")


def test_a_causal_model_pooled_by_its_last_token_is_sensitive_to_every_position(decoder_dir, documents):
    """The last token attends to every earlier one, so replacing any of them moves its state."""
    model = load_causal(decoder_dir, "lasttoken", "cpu")
    ids = documents[0]
    occluded = occlusion(model, ids, unk(model), range(LENGTH), batch_size=8)
    attributed = integrated_gradients(model, ids, unk(model), n_steps=8, batch_size=8).per_position
    assert occluded.shape == attributed.shape == (LENGTH,)
    assert bool((occluded > 1e-6).all()), occluded
    assert bool((attributed.abs() > 1e-6).all()), attributed


def first_token_share(model, documents: list[torch.Tensor]) -> float:
    shares = [occlusion(model, ids, unk(model), range(LENGTH), batch_size=LENGTH) for ids in documents]
    return float(torch.stack([s[0] / s.sum() for s in shares]).mean())


def test_mean_pooling_gives_the_first_token_a_larger_share_when_causal_than_when_bidirectional(decoder_dir, documents):
    """Same weights, same mean pooling, only the attention direction differs. Causally, the first
    token's value feeds the hidden state of every one of the L positions that the mean averages
    (position 0 attends only to itself, position 1 half to it, ...), while a later token reaches only
    the states after it; bidirectionally every token reaches every state, so no position is
    privileged by the mask and the first one's share stays near 1/L."""
    causal = first_token_share(load_causal(decoder_dir, "mean", "cpu"), documents)
    bidirectional = first_token_share(load_saved(decoder_dir, "cpu"), documents)
    assert causal > bidirectional


def test_occlusion_is_one_minus_cosine_after_replacing_the_token_and_does_not_depend_on_the_batch(
    decoder_dir, documents
):
    model = load_saved(decoder_dir, "cpu")
    ids, token = documents[1], unk(model)
    positions = [0, 5, LENGTH - 1]
    one_by_one = occlusion(model, ids, token, positions, batch_size=1)
    batched = occlusion(model, ids, token, positions, batch_size=3)
    replaced = ids.clone()
    replaced[5] = token
    with torch.no_grad():
        expected = 1 - F.cosine_similarity(embed(model, replaced[None]), embed(model, ids[None]))
    assert torch.allclose(one_by_one, batched, atol=1e-6)
    assert float(one_by_one[1]) == pytest.approx(float(expected), abs=1e-6)


def test_integrated_gradients_completeness_holds_within_the_reported_delta(decoder_dir, documents):
    model = load_causal(decoder_dir, "mean", "cpu")
    result = integrated_gradients(model, documents[2], unk(model), n_steps=16, batch_size=8)
    gap = result.similarity - result.baseline_similarity
    assert result.similarity == pytest.approx(1.0, abs=1e-5)  # f(x) = cos(e(x), e(x))
    assert abs(float(result.per_position.sum()) - gap) <= abs(result.delta) + 1e-5
    assert abs(result.delta) < 1e-2 * abs(gap)


def test_padding_never_enters_the_network(decoder_dir, passages, monkeypatch):
    """Every batch the network sees during both measures is unpadded: all-ones mask, no pad id."""
    model = load_causal(decoder_dir, "mean", "cpu")
    network = model[0].auto_model
    forward, seen = network.forward, []

    def spy(*args, **kwargs):
        seen.append((kwargs["input_ids"], kwargs["attention_mask"]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(network, "forward", spy)
    pad = model[0].tokenizer.pad_token_id
    for _, ids in cut_documents(model[0].tokenizer, passages[:2], 16):
        occlusion(model, ids, unk(model), range(16), batch_size=5)
        integrated_gradients(model, ids, unk(model), n_steps=4, batch_size=3)
    assert seen
    for input_ids, mask in seen:
        assert bool(mask.bool().all()) and not bool((input_ids == pad).any())


def test_a_padded_batch_is_refused_and_short_documents_are_skipped_not_padded(decoder_dir, passages):
    model = load_saved(decoder_dir, "cpu")
    tokenizer = model[0].tokenizer
    padded = tokenizer(["短い", passages[0]], padding=True, return_tensors="pt")["input_ids"]
    with pytest.raises(ValueError, match="padding never enters"):
        embed(model, padded)
    lengths = [len(tokenizer(t)["input_ids"]) for t in passages]
    kept = cut_documents(tokenizer, passages, 64)
    assert [i for i, _ in kept] == [i for i, n in enumerate(lengths) if n >= 64]
    assert all(ids.shape == (64,) for _, ids in kept)


def test_a_decoder_meant_to_be_bidirectional_that_is_not_stops_the_job(tiny_tokenizer_dir, tmp_path, passages):
    causal_dir = saved_model(tiny_tokenizer_dir, tmp_path, "llama", bidirectional=False, pooling="lasttoken")
    settings = small_settings(tmp_path, passages)
    with pytest.raises(RuntimeError, match=rf"{causal_dir}.*meant to be bidirectional"):
        run_decoder_job(causal_dir, settings, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_documents_too_short_for_every_length_stop_the_job_before_any_measurement(decoder_dir, tmp_path, passages):
    settings = small_settings(tmp_path, passages, lengths=[4096])
    with pytest.raises(DataError, match=r"documents\.jsonl: none of the 3 documents reaches 4096 tokens"):
        run_decoder_job(decoder_dir, settings, tmp_path / "out")


def test_a_causal_variant_that_is_not_causal_is_refused(decoder_dir):
    with pytest.raises(RuntimeError, match="meant to be causal"):
        check_attention(load_saved(decoder_dir, "cpu"), Variant("causal", False, "mean"), "decoder")


def test_decoders_get_causal_variants_and_encoders_do_not():
    decoder = model_variants(tiny_arm("llama", bidirectional=True), "mean")
    assert [(v.kind, v.attention, v.pooling) for v in decoder] == [
        ("saved", "bidirectional", "mean"),
        ("causal", "causal", "lasttoken"),
        ("causal", "causal", "mean"),
    ]
    causal_arm = model_variants(tiny_arm("llama", bidirectional=False), "lasttoken")
    assert [(v.kind, v.pooling) for v in causal_arm] == [("saved", "lasttoken"), ("causal", "mean")]
    assert [v.kind for v in model_variants(tiny_arm("modernbert"), "mean")] == ["saved"]


def test_long_sequences_occlude_the_whole_head_and_sample_the_rest_evenly():
    positions, weight = occluded_positions(512, 64)
    assert positions[:HEAD_TOKENS] == list(range(HEAD_TOKENS)) and positions[-1] == 511
    assert len(positions) == len(set(positions)) == 64
    assert HEAD_TOKENS + weight * (len(positions) - HEAD_TOKENS) == pytest.approx(512)
    assert occluded_positions(32, 64) == (list(range(32)), 1.0)


def test_the_occlusion_token_is_one_id_for_both_families_and_never_the_pad_token(decoder_dir, encoder_dir):
    decoder, encoder = load_saved(decoder_dir, "cpu")[0].tokenizer, load_saved(encoder_dir, "cpu")[0].tokenizer
    assert occlusion_token_id(decoder, "unk_token") == occlusion_token_id(encoder, "unk_token") == decoder.unk_token_id
    assert occlusion_token_id(decoder, "<mask>") == decoder.mask_token_id
    with pytest.raises(ConfigError, match="pad token is refused"):
        occlusion_token_id(decoder, "pad_token")
    with pytest.raises(ConfigError, match="not in the tokenizer's vocabulary"):
        occlusion_token_id(decoder, "no-such-token")


def small_settings(tmp_path: Path, passages: list[str], **overrides) -> SensitivitySettings:
    path = atomic_write_jsonl(tmp_path / "documents.jsonl", [{"text": text} for text in passages])
    section = {
        "documents": {"path": str(path), "max_rows": 100},
        "num_documents": 3,
        "lengths": [16, 40],
        "occlusion_token": "unk_token",
        "n_steps": 4,
        "batch_size": 8,
        "max_occluded_positions": 20,
        **overrides,
    }
    return SensitivitySettings.from_section(section, data_root="unused")


def run_decoder_job(model_dir: Path, settings: SensitivitySettings, out: Path) -> dict:
    """One job of a decoder arm meant to be bidirectional, as the measuring rule runs it."""
    return measure_sensitivity(
        model_dir=model_dir,
        arm=tiny_arm("llama", bidirectional=True),
        settings=settings,
        device=CPU,
        seed=0,
        labels={"model": "decoder", "seed": 0, "family": "llama", "stage": "base"},
        out_positions=out / "positions.parquet",
        out_deltas=out / "ig_deltas.csv",
        out_manifest=out / "manifest.json",
        fragment={"sensitivity": "test"},
    )


def test_measure_sensitivity_writes_tidy_positions_deltas_and_a_manifest(decoder_dir, tmp_path, passages):
    out = tmp_path / "results"
    manifest = run_decoder_job(decoder_dir, small_settings(tmp_path, passages), out)
    positions, deltas = pd.read_parquet(out / "positions.parquet"), pd.read_csv(out / "ig_deltas.csv")
    assert list(positions.columns) == [
        *("model", "seed", "family", "stage", "variant", "attention", "pooling"),
        *("document", "length", "position", "measure", "value", "weight"),
    ]
    networks = positions[["attention", "pooling"]].drop_duplicates().values.tolist()
    assert networks == [["bidirectional", "mean"], ["causal", "lasttoken"], ["causal", "mean"]]
    sequences = 3 * sum(manifest["documents"]["per_length"].values())
    assert len(deltas) == sequences
    # captum's delta is the completeness gap, sum of attributions minus f(x) - f(baseline).
    gap = deltas["attribution_sum"] - (deltas["similarity"] - deltas["baseline_similarity"])
    assert (gap - deltas["delta"]).abs().max() < 1e-4
    ig = positions[positions["measure"] == INTEGRATED_GRADIENTS]
    assert len(ig) == 3 * sum(n * length for length, n in manifest["documents"]["per_length"].items())
    # Length 40 is above max_occluded_positions = 20: 20 occluded positions weighted up to 40.
    long = positions[(positions["measure"] == OCCLUSION) & (positions["length"] == 40)]
    per_sequence = long.groupby(["attention", "pooling", "document"])
    assert (per_sequence.size() == 20).all()
    assert (per_sequence["weight"].sum() - 40.0).abs().max() < 1e-9
    assert read_json(out / "manifest.json")["occlusion_token_id"] == manifest["occlusion_token_id"]
    assert [v["label"] for v in manifest["variants"]][0] == "saved, bidirectional, mean pooling"
