"""The shared tokenizer: trained or loaded, always with every special token, described by a
manifest that later stages trust (hash, vocabulary size, special token ids)."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from twinarch.core.io import DataError
from twinarch.data.config import TokenizerConfig, tokenizer_corpus_names
from twinarch.data.sources import Document, build_source
from twinarch.data.tokenizer import (
    SPECIAL_TOKENS,
    build_tokenizer,
    capped_texts,
    read_tokenizer_manifest,
    tokenizer_hash,
)


@pytest.fixture(scope="module")
def passages_source(shared_data):
    return build_source(
        "jaquad_dev",
        {
            "type": "local",
            "path": str(shared_data / "jaquad" / "jaquad_dev_passages.jsonl"),
            "id_field": "pid",
            "max_documents": 300,
        },
    )


def test_trained_tokenizer_and_its_manifest(tmp_path, passages_source):
    out = tmp_path / "tokenizer"
    cfg = TokenizerConfig(vocab_size=800, max_chars=200_000)
    manifest = build_tokenizer(cfg, [passages_source], out)
    assert manifest == read_tokenizer_manifest(out)
    tok = AutoTokenizer.from_pretrained(str(out))
    assert manifest["vocab_size"] == len(tok) == 800
    assert manifest["tokenizer_hash"] == tokenizer_hash(out)
    ids = manifest["special_token_ids"]
    assert set(ids) == {f"{k}_id" for k in SPECIAL_TOKENS}
    assert len(set(ids.values())) == len(SPECIAL_TOKENS)
    assert ids["eos_token_id"] == tok.eos_token_id and ids["mask_token_id"] == tok.mask_token_id
    assert manifest["source"] == {"trained": "bpe", "corpora": ["jaquad_dev"], "max_chars": 200_000}
    text = "東京大学は日本の大学である。"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_training_is_deterministic(tmp_path, passages_source):
    cfg = TokenizerConfig(vocab_size=600, max_chars=100_000)
    first = build_tokenizer(cfg, [passages_source], tmp_path / "a")
    second = build_tokenizer(cfg, [passages_source], tmp_path / "b")
    assert first["tokenizer_hash"] == second["tokenizer_hash"]
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_pretrained_local_tokenizer_gets_missing_special_tokens(tmp_path, tiny_tokenizer_dir):
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(tiny_tokenizer_dir / "tokenizer.json"))
    partial = tmp_path / "partial"
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", eos_token="</s>").save_pretrained(partial)
    manifest = build_tokenizer(TokenizerConfig(source="pretrained", pretrained=str(partial)), [], tmp_path / "out")
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    assert set(manifest["added_special_tokens"]) == {"pad_token", "bos_token", "cls_token", "sep_token", "mask_token"}
    assert all(getattr(tok, attr) is not None for attr in SPECIAL_TOKENS)
    assert manifest["vocab_size"] == len(tok)
    assert manifest["source"] == {"pretrained": str(partial)}


def test_hub_tokenizer_offline_says_what_to_do(tmp_path):
    with pytest.raises(
        DataError, match=r"'sbintuitions/sarashina2.2-0.5b' is not a local directory and HF_HUB_OFFLINE"
    ):
        build_tokenizer(
            TokenizerConfig(source="pretrained", pretrained="sbintuitions/sarashina2.2-0.5b"), [], tmp_path / "t"
        )
    assert not (tmp_path / "t").exists()


def test_failed_training_leaves_no_directory(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"text": ""}) + "\n", encoding="utf-8")
    source = build_source("empty", {"type": "local", "path": str(empty)})
    with pytest.raises(DataError, match="has no document with text"):
        build_tokenizer(TokenizerConfig(), [source], tmp_path / "tok")
    assert not (tmp_path / "tok").exists()


def test_character_cap_cuts_the_last_document():
    docs = [Document(str(i), "あ" * 10) for i in range(5)]
    assert list(capped_texts(docs, 25)) == ["あ" * 10, "あ" * 10, "あ" * 5]


def test_default_training_corpora_are_every_pretraining_corpus():
    config = {
        "tokenizer": {"source": "train"},
        "pretrain": {"stages": [{"corpora": ["a", "b"]}, {"corpora": ["b", "c"]}]},
    }
    assert tokenizer_corpus_names(config) == ["a", "b", "c"]
    assert tokenizer_corpus_names({**config, "tokenizer": {"source": "train", "train_corpora": ["c"]}}) == ["c"]
    assert tokenizer_corpus_names({**config, "tokenizer": {"source": "pretrained"}}) == []
