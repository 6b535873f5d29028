"""The demo's generated data: deterministic, shaped like the real files, with structure a small
model can learn, and no evaluation text in any training file."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from twinarch.core.config import ConfigError
from twinarch.core.io import iter_jsonl
from twinarch.data.synthetic import SyntheticConfig, build_world, generate_synthetic_data, synthetic_output_files

COLUMNS = {
    "pretrain": {"id", "text"},
    "pairs": {"anchor", "positive", "dataset"},
    "triplets": {"question", "positive", "hard_negatives"},
    "sts": {"sentence1", "sentence2", "label"},
    "passages": {"pid", "title", "text"},
    "queries": {"qid", "pid", "question", "hard_neg_pids"},
    "news": {"id", "category", "title", "body"},
    "sentiment": {"sentence", "sentence_polarity"},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, list[dict]]:
    out = synthetic_output_files(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_data(SyntheticConfig(), 0, out)
    return {role: list(iter_jsonl(path)) for role, path in out.items()}


def test_files_and_columns_follow_the_contract(demo):
    for role, rows in demo.items():
        assert rows, role
        assert all(set(r) == COLUMNS[role] for r in rows), role
    assert {r["dataset"] for r in demo["pairs"]} == {"synthetic_paraphrase", "synthetic_title_body", "synthetic_qa"}
    assert {r["sentence_polarity"] for r in demo["sentiment"]} == {"positive", "negative"}


def test_pretraining_text_is_demo_sized(demo):
    size = sum(len(json.dumps(r, ensure_ascii=False).encode()) + 1 for r in demo["pretrain"])
    assert 1_500_000 < size < 3_000_000


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    cfg = SyntheticConfig(
        topics=3,
        entities_per_topic=8,
        pretrain_documents=20,
        pairs_per_dataset=10,
        triplets=10,
        sts_pairs=10,
        queries=10,
        news_articles=10,
        sentiment_sentences=10,
    )
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = synthetic_output_files(tmp_path / name)
        generate_synthetic_data(cfg, seed, out)
        runs[name] = {role: Path(p).read_bytes() for role, p in out.items()}
    assert runs["a"] == runs["b"]
    assert runs["a"]["pretrain"] != runs["c"]["pretrain"]


def test_evaluation_entities_never_appear_in_training_files(demo):
    world = build_world(SyntheticConfig(), 0)
    training = "".join(
        json.dumps(r, ensure_ascii=False) for role in ("pretrain", "pairs", "triplets") for r in demo[role]
    )
    evaluation = "".join(
        json.dumps(r, ensure_ascii=False)
        for role in ("sts", "passages", "queries", "news", "sentiment")
        for r in demo[role]
    )
    assert not [e.name for e in world.eval if e.name in training]
    assert sum(e.name in evaluation for e in world.eval) == len(world.eval)
    assert all(e.name in training for e in world.train[:50])


def test_sts_label_follows_shared_content(demo):
    from scipy.stats import spearmanr

    labels = [r["label"] for r in demo["sts"]]
    assert set(labels) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    overlap = [
        len(set(r["sentence1"]) & set(r["sentence2"])) / len(set(r["sentence1"]) | set(r["sentence2"]))
        for r in demo["sts"]
    ]
    assert spearmanr(labels, overlap).statistic > 0.6


def test_each_query_has_one_gold_passage_and_same_topic_hard_negatives(demo):
    passages = {p["pid"]: p for p in demo["passages"]}
    topic_of = {p["pid"]: p["text"].split("の分野で")[0].split("は")[-1] for p in demo["passages"]}
    for q in demo["queries"]:
        assert q["pid"] in passages and q["pid"] not in q["hard_neg_pids"]
        assert all(topic_of[n] == topic_of[q["pid"]] for n in q["hard_neg_pids"])


def test_retrieval_is_learnable_from_lexical_overlap(demo):
    """A character-bigram TF-IDF retriever finds most gold passages among all of them: the signal a
    small model can learn is there (and hard negatives keep it from being trivial for chance)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pids = [p["pid"] for p in demo["passages"]]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit([p["text"] for p in demo["passages"]])
    scores = (
        vec.transform([q["question"] for q in demo["queries"]]) @ vec.transform([p["text"] for p in demo["passages"]]).T
    ).toarray()
    gold = np.array([pids.index(q["pid"]) for q in demo["queries"]])
    ranks = (scores > scores[np.arange(len(gold)), gold][:, None]).sum(axis=1)
    mrr = float(np.mean(1.0 / (ranks + 1)))
    assert mrr > 0.5, mrr
    assert len(pids) >= 150


def test_news_category_follows_topic(demo):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rows = demo["news"]
    texts, labels = [r["title"] + r["body"] for r in rows], [r["category"] for r in rows]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(texts[:300])
    clf = LogisticRegression(max_iter=500).fit(vec.transform(texts[:300]), labels[:300])
    assert clf.score(vec.transform(texts[300:]), labels[300:]) > 0.8
    by_category = defaultdict(int)
    for label in labels:
        by_category[label] += 1
    assert len(by_category) == SyntheticConfig().topics


def test_too_few_evaluation_entities_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="synthetic.eval_entity_fraction"):
        generate_synthetic_data(
            SyntheticConfig(entities_per_topic=4, eval_entity_fraction=0.1), 0, synthetic_output_files(tmp_path)
        )
