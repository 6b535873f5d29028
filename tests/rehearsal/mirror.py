"""A local mirror of every hub repository config/paper.yaml names, built from the real miniature
Japanese data in ../shared/data, in the layout `twinarch.core.hub` resolves: `<root>/<org>/<name>`.

Each dataset is what `hf download --repo-type dataset --local-dir` would leave: Parquet files and a
README.md whose YAML `configs:` block names the subsets and splits, so `datasets.load_dataset`,
`get_dataset_config_names` and mteb's task loaders read it through the code they use on the hub.
Column names, subsets and nesting are those of the hub datasets (the Ruri datasets' `anc`/`pos`/`neg`,
MIRACL's nested `positive_passages`, one config per Ruri subset, fineweb-2-edu-japanese's
`sample_10BT`); the rows are a few dozen real Japanese texts each, which is all a rehearsal needs.
The pretrained decoder is a tiny random Llama saved like sbintuitions/sarashina2.2-0.5b: a
LlamaForCausalLM config (grouped-query attention, untied LM head, no attention bias) and a fast
tokenizer with the special tokens a decoder's tokenizer carries (<s>, </s>, <unk>, <pad>; no
cls/sep/mask, which the shared tokenizer then adds).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

Rows = list[dict[str, Any]]


def read_jsonl(path: Path, limit: int | None = None) -> Rows:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, limit)]


def write_dataset(folder: Path, configs: Mapping[str, Mapping[str, Rows]]) -> Path:
    """One hub dataset repository: `<config>/<split>-00000-of-00001.parquet` per config and split,
    listed in the README.md `configs:` block the hub and `datasets` read."""
    from datasets import Dataset

    entries = []
    for config, splits in configs.items():
        files = []
        for split, rows in splits.items():
            path = Path(config) / f"{split}-00000-of-00001.parquet"
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            Dataset.from_list(rows).to_parquet(str(folder / path))
            files.append({"split": split, "path": str(path)})
        entries.append({"config_name": config, "data_files": files})
    card = yaml.safe_dump({"configs": entries}, allow_unicode=True, sort_keys=False)
    (folder / "README.md").write_text(f"---\n{card}---\n", encoding="utf-8")
    return folder


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class MirrorBuilder:
    """Writes the mirror under `root`; every text comes from `shared` (never copied elsewhere)."""

    def __init__(self, root: Path, shared: Path, rows: int = 24) -> None:
        self.root = root
        self.shared = shared
        self.rows = rows

    def dataset(self, hub_id: str, configs: Mapping[str, Mapping[str, Rows]]) -> Path:
        return write_dataset(self.root / hub_id, configs)

    def build(self) -> Path:
        self.pretraining_corpora()
        self.ruri()
        self.quality_sources()
        self.jmteb_tasks()
        self.sarashina()
        return self.root

    # ------------------------------------------------------------------ pretraining and profiling

    def pretraining_corpora(self) -> None:
        news = read_jsonl(self.shared / "livedoor" / "livedoor_news.jsonl", 8 * self.rows)
        self.dataset(
            "hotchpotch/fineweb-2-edu-japanese",
            {"sample_10BT": {"train": [{"text": r["body"], "id": r["id"]} for r in news]}},
        )
        passages = read_jsonl(self.shared / "jaquad" / "jaquad_train_passages.jsonl", 8 * self.rows)
        # wiki40b_ja's columns (wikidata_id, text, version_id) and its three splits.
        wiki = [{"wikidata_id": r["pid"], "text": r["text"], "version_id": "0"} for r in passages]
        third = len(wiki) // 3
        self.dataset(
            "fujiki/wiki40b_ja",
            {"default": {"train": wiki[: 2 * third], "validation": wiki[2 * third :], "test": wiki[2 * third :]}},
        )

    # ------------------------------------------------------------------ contrastive data

    def ruri(self) -> None:
        """ruri-dataset-v2-pt: one config per source with `anc`, `pos`; ruri-v3-dataset-ft: the same
        with `neg`, a list of hard negatives (empty for some rows, as on the hub)."""
        n = self.rows
        queries = read_jsonl(self.shared / "jaquad" / "jaquad_dev_queries.jsonl", 2 * n)
        passages = {r["pid"]: r["text"] for r in read_jsonl(self.shared / "jaquad" / "jaquad_dev_passages.jsonl")}
        news = read_jsonl(self.shared / "wikinews_ja" / "wikinews_headline_article.jsonl", n)
        sts = [r for r in read_jsonl(self.shared / "jglue" / "jsts_train.json", 20 * n) if r["label"] >= 4][:n]
        self.dataset(
            "cl-nagoya/ruri-dataset-v2-pt",
            {
                "wikinews": {"train": [{"anc": r["headline"], "pos": r["article"]} for r in news]},
                "jsts": {"train": [{"anc": r["sentence1"], "pos": r["sentence2"]} for r in sts]},
            },
        )

        def triplet(row: Mapping[str, Any], negatives: int) -> dict[str, Any]:
            negs = [passages[p] for p in row["hard_neg_pids"][:negatives] if p in passages]
            return {"anc": row["question"], "pos": passages[row["pid"]], "neg": negs}

        self.dataset(
            "cl-nagoya/ruri-v3-dataset-ft",
            {
                "jaquad": {"train": [triplet(r, 3) for r in queries[:n]]},
                "jaquad-hard": {"train": [triplet(r, 1 if i % 4 else 0) for i, r in enumerate(queries[n:])]},
            },
        )

    # ------------------------------------------------------------------ Figure 2's sources

    def quality_sources(self) -> None:
        """MIRACL ja (config `ja`, nested `positive_passages` with docid/title/text; a query's
        positives here are paragraphs of its gold passage's article) and Japanese Wikipedia."""
        passages = read_jsonl(self.shared / "jglue" / "jsquad_valid_passages.jsonl")
        by_title: dict[str, Rows] = {}
        for p in passages:
            by_title.setdefault(p["title"], []).append(p)
        queries = read_jsonl(self.shared / "jglue" / "jsquad_valid_queries.jsonl", 4 * self.rows)
        pid_title = {p["pid"]: p["title"] for p in passages}
        rows = []
        for q in queries:
            article = by_title[pid_title[q["pid"]]]
            positives = [p for p in article if p["pid"] == q["pid"]] + [p for p in article if p["pid"] != q["pid"]]
            # Every fourth query keeps one positive: the pairs need two and skip it.
            keep = 1 if len(rows) % 4 == 0 else 2
            rows.append(
                {
                    "query_id": q["qid"],
                    "query": q["question"],
                    "positive_passages": [
                        {"docid": p["pid"], "title": p["title"], "text": p["text"]} for p in positives[:keep]
                    ],
                    "negative_passages": [],
                }
            )
        self.dataset("miracl/miracl", {"ja": {"train": rows, "dev": rows[: self.rows]}})
        articles = [
            {"id": str(i), "url": "", "title": title, "text": "\n".join(p["text"] for p in group)}
            for i, (title, group) in enumerate(itertools.islice(by_title.items(), 4 * self.rows))
        ]
        self.dataset("wikimedia/wikipedia", {"20231101.ja": {"train": articles}})

    # ------------------------------------------------------------------ JMTEB(v2) task data

    def jmteb_tasks(self) -> None:
        """mteb's copies of four JMTEB tasks, one per category the rehearsal scores, in the columns
        and splits the real task classes read."""
        n = self.rows
        sts = read_jsonl(self.shared / "jglue" / "jsts_valid.json", n)
        self.dataset(
            "mteb/JSTS",
            {
                "default": {
                    "validation": [
                        {"sentence1": r["sentence1"], "sentence2": r["sentence2"], "score": r["label"]} for r in sts
                    ]
                }
            },
        )
        news = read_jsonl(self.shared / "livedoor" / "livedoor_news.jsonl")
        by_category: dict[str, Rows] = {}
        for article in news:
            by_category.setdefault(article["category"], []).append(article)
        picked = [a for group in list(by_category.values())[:3] for a in group[: n // 3]]
        self.dataset(
            "mteb/LivedoorNewsClustering.v2",
            {"default": {"test": [{"sentences": a["title"], "labels": a["category"]} for a in picked]}},
        )
        polar = [
            r
            for r in read_jsonl(self.shared / "chabsa" / "chabsa_sentences.jsonl")
            if r["sentence_polarity"] in ("positive", "negative")
        ]
        labelled = {k: [r for r in polar if r["sentence_polarity"] == k][: 2 * n] for k in ("positive", "negative")}
        split = {
            name: [
                {"text": r["sentence"], "label": int(k == "positive")}
                for k in labelled
                for r in (labelled[k][:n] if name == "train" else labelled[k][n:])
            ]
            for name in ("train", "test")
        }
        self.dataset("mteb/JapaneseSentimentClassification", {"default": split})
        queries = read_jsonl(self.shared / "jglue" / "jsquad_test_queries.jsonl", n)
        corpus = read_jsonl(self.shared / "jglue" / "jsquad_test_passages.jsonl", 3 * n)
        wanted = {q["pid"] for q in queries} | {c["pid"] for c in corpus}
        docs = [p for p in read_jsonl(self.shared / "jglue" / "jsquad_test_passages.jsonl") if p["pid"] in wanted]
        self.dataset(
            "mteb/jaqket",
            {
                "corpus": {"test": [{"id": d["pid"], "title": d["title"], "text": d["text"]} for d in docs]},
                "queries": {"test": [{"id": q["qid"], "text": q["question"]} for q in queries]},
                "default": {"test": [{"query-id": q["qid"], "corpus-id": q["pid"], "score": 1} for q in queries]},
            },
        )

    # ------------------------------------------------------------------ the pretrained decoder

    def sarashina(self, vocab_size: int = 600) -> Path:
        """sbintuitions/sarashina2.2-0.5b's shape at toy size: a LlamaForCausalLM with grouped-query
        attention (4 heads over 2 KV heads), an untied LM head, no attention bias, 8,192 positions,
        and a fast tokenizer learned from the mirror's own text."""
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        folder = self.root / "sbintuitions" / "sarashina2.2-0.5b"
        specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
        texts = [r["text"] for r in read_jsonl(self.shared / "jaquad" / "jaquad_dev_passages.jsonl", 200)]
        backend = Tokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        backend.train_from_iterator(
            texts,
            trainers.BpeTrainer(
                vocab_size=vocab_size,
                special_tokens=list(specials.values()),
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            ),
        )
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=8192,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
            tie_word_embeddings=False,
            attention_bias=False,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder
