"""The demo's data: a small generative world whose structure a ~1M-parameter model can learn.

The demo has to show, in minutes on a laptop, that pretraining and contrastive training help. Random
text cannot show that, and no real data set is small enough, so we generate Japanese-looking text
from a world with real structure (no library does this; it is written here):

- topics, each with its own vocabulary (two-kanji words from a kanji set no other topic uses);
- entities (a katakana name plus a topic suffix) with facts: (verb, object, place, year);
- sentences rendered from facts through several templates and synonymous verbs, so a fact has
  paraphrases that share its content words but not its surface form;
- every (object, place, year) combination belongs to one fact, so a question about it is answered by
  exactly one passage, and same-topic passages make hard negatives.

Entities are split into training and evaluation entities: pretraining text and contrastive pairs
mention only training entities; STS, retrieval, news and sentiment files only evaluation entities,
so no evaluation text is ever trained on. Everything is drawn from `random.Random` seeded with
strings derived from the config's seed, so the same seed writes byte-identical files.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinarch.core.config import ConfigError
from twinarch.core.io import atomic_write_jsonl

log = logging.getLogger(__name__)

SYNTHETIC_DIR = "results/data/synthetic"
SYNTHETIC_FILES = {
    "pretrain": "synthetic_pretrain.jsonl",
    "pairs": "synthetic_pairs.jsonl",
    "triplets": "synthetic_triplets.jsonl",
    "sts": "synthetic_sts.jsonl",
    "passages": "synthetic_passages.jsonl",
    "queries": "synthetic_queries.jsonl",
    "news": "synthetic_news.jsonl",
    "sentiment": "synthetic_sentiment.jsonl",
}
SYNTHETIC_PRETRAIN = f"{SYNTHETIC_DIR}/{SYNTHETIC_FILES['pretrain']}"

# (category key, label printed in text, suffix of entity names)
TOPICS = (
    ("sports", "スポーツ", "選手"),
    ("economy", "経済", "社"),
    ("science", "科学", "博士"),
    ("music", "音楽", "楽団"),
    ("film", "映画", "監督"),
    ("travel", "旅行", "観光協会"),
    ("medicine", "医療", "病院"),
    ("education", "教育", "大学"),
    ("weather", "気象", "観測所"),
    ("technology", "技術", "工業"),
    ("agriculture", "農業", "農園"),
    ("cooking", "料理", "食堂"),
    ("politics", "政治", "議員"),
    ("art", "美術", "美術館"),
    ("space", "宇宙", "研究所"),
    ("fashion", "ファッション", "ブランド"),
)
KANJI = (
    "山川田林森海空雨雪風雲花草竹米麦茶酒肉魚鳥牛馬犬猫虫貝石金銀銅鉄玉糸布紙皿箱車船駅道橋港"
    "町村島岸池湖泉谷坂門窓壁床柱根庭園畑野原丘岩砂土火水光影音声歌曲器絵画像字文書誌面線点円"
    "角形色赤青白黒黄緑紫灰星月朝昼夜春夏秋冬東西南北左右上下前後内外強弱早遅明暗深浅重軽広狭"
    "太細速遠近親友父母兄弟姉妹子孫王将兵士商工農医薬病体頭顔目耳口手足心命血骨皮毛羽翼根葉枝"
    "実種芽苗穂稲豆芋瓜桃梅桜松杉菊蘭薔鯨鮭鯛蟹蛸亀蛇龍虎熊鹿兎狐狸猿象獅豹鶴鷹燕雀鳩烏鴨鵜"
    "灯炉釜鍋壺瓶杯匙箸刀剣弓矢盾鎧旗帆舟櫂綱網籠笠傘靴袋帯袖襟裾鈴笛琴鼓舞劇詩章節頁冊巻"
)
PLACE_KANJI = "青葉緑桜松竹梅北南東西中上下新古大小高長平和豊富春秋宮浜崎沢津尾浦"
KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワガギグゲゴザジズゼゾダデドバビブベボパピプペポ"
# Synonymous verb forms: a fact's paraphrase swaps the form, its content words stay.
VERBS = (
    ("発表した", "公表した"),
    ("開発した", "作り上げた"),
    ("導入した", "取り入れた"),
    ("展示した", "公開した"),
    ("受賞した", "獲得した"),
    ("販売した", "売り出した"),
    ("調査した", "研究した"),
    ("建設した", "築いた"),
)
FACT_TEMPLATES = (
    "{e}は{y}年に{p}で{o}を{v}。",
    "{y}年、{p}において{e}が{o}を{v}。",
    "{p}では{y}年に{e}が{o}を{v}。",
)
QUESTION_TEMPLATES = (
    "{y}年に{p}で{o}を{v}のは誰か。",
    "{e}が{y}年に{p}で{v}ものは何か。",
    "{e}が{o}を{v}のはどこか。",
)
POSITIVE = ("が好調だ", "の評判が高まった", "が大きく改善した", "の売上が伸びた", "が高く評価された")
NEGATIVE = ("が不調だ", "の評判が下がった", "が大きく悪化した", "の売上が落ち込んだ", "が厳しく批判された")
WORDS_PER_TOPIC = 30
KANJI_PER_TOPIC = 14
YEARS = range(1990, 2025)


@dataclass(frozen=True)
class SyntheticConfig:
    """The `synthetic` config section: how big the generated world and each file are."""

    topics: int = 12
    entities_per_topic: int = 50
    facts_per_entity: int = 5
    eval_entity_fraction: float = 0.3
    pretrain_documents: int = 3500
    pairs_per_dataset: int = 1000
    triplets: int = 1500
    hard_negatives: int = 3
    sts_pairs: int = 400
    queries: int = 400
    news_articles: int = 400
    sentiment_sentences: int = 400

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> SyntheticConfig:
        return cls(**(raw or {}))


@dataclass(frozen=True)
class Fact:
    verb: int
    obj: str
    place: str
    year: int


@dataclass(frozen=True)
class Entity:
    name: str
    topic: int
    facts: tuple[Fact, ...]
    pid: str


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    suffix: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class World:
    topics: tuple[Topic, ...]
    places: tuple[str, ...]
    train: tuple[Entity, ...]
    eval: tuple[Entity, ...]

    def by_topic(self, entities: tuple[Entity, ...]) -> dict[int, list[Entity]]:
        grouped: dict[int, list[Entity]] = {i: [] for i in range(len(self.topics))}
        for entity in entities:
            grouped[entity.topic].append(entity)
        return grouped


def fact_sentence(entity: Entity, fact: Fact, template: int, form: int) -> str:
    return FACT_TEMPLATES[template].format(
        e=entity.name, y=fact.year, p=fact.place, o=fact.obj, v=VERBS[fact.verb][form]
    )


def question(entity: Entity, fact: Fact, template: int) -> str:
    return QUESTION_TEMPLATES[template].format(
        e=entity.name, y=fact.year, p=fact.place, o=fact.obj, v=VERBS[fact.verb][0]
    )


def build_world(cfg: SyntheticConfig, seed: int) -> World:
    """Topics, places and entities with globally unique (object, place, year) facts."""
    if not 1 <= cfg.topics <= len(TOPICS):
        raise ConfigError(f"config key 'synthetic.topics': must be between 1 and {len(TOPICS)}")
    rng = random.Random(f"{seed}:world")
    kanji = list(dict.fromkeys(KANJI))
    rng.shuffle(kanji)
    topics = []
    for i, (key, label, suffix) in enumerate(TOPICS[: cfg.topics]):
        own = kanji[i * KANJI_PER_TOPIC : (i + 1) * KANJI_PER_TOPIC]
        pairs = [a + b for a in own for b in own if a != b]
        topics.append(Topic(key, label, suffix, tuple(rng.sample(pairs, WORDS_PER_TOPIC))))
    place_pairs = sorted({a + b for a in PLACE_KANJI for b in PLACE_KANJI if a != b})
    places = tuple(p + "市" for p in rng.sample(place_pairs, 60))

    names: set[str] = set()
    used: set[tuple[str, str, int]] = set()
    entities = []
    for t, topic in enumerate(topics):
        for _ in range(cfg.entities_per_topic):
            name = _unique_name(rng, names) + topic.suffix
            facts = []
            while len(facts) < cfg.facts_per_entity:
                fact = Fact(rng.randrange(len(VERBS)), rng.choice(topic.words), rng.choice(places), rng.choice(YEARS))
                if (fact.obj, fact.place, fact.year) not in used:
                    used.add((fact.obj, fact.place, fact.year))
                    facts.append(fact)
            entities.append(Entity(name, t, tuple(facts), pid=f"synthetic-p{len(entities):05d}"))
    rng.shuffle(entities)
    n_eval = round(len(entities) * cfg.eval_entity_fraction)
    return World(tuple(topics), places, tuple(entities[n_eval:]), tuple(entities[:n_eval]))


def _unique_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(KATAKANA) for _ in range(rng.randint(3, 4)))
        if name not in taken:
            taken.add(name)
            return name


def passage(world: World, entity: Entity, rng: random.Random) -> dict[str, str]:
    topic = world.topics[entity.topic]
    sentences = [f"{entity.name}は{topic.label}の分野で知られる{topic.suffix}である。"]
    sentences += [fact_sentence(entity, f, rng.randrange(3), rng.randrange(2)) for f in entity.facts]
    return {"pid": entity.pid, "title": entity.name, "text": "".join(sentences)}


def topic_sentence(topic: Topic, rng: random.Random) -> str:
    a, b = rng.sample(topic.words, 2)
    return f"{topic.label}の分野では{a}と{b}が注目されている。"


def sentiment_sentence(entity: Entity, rng: random.Random, positive: bool) -> str:
    fact = rng.choice(entity.facts)
    predicate = rng.choice(POSITIVE if positive else NEGATIVE)
    return f"{fact.year}年、{entity.name}の{fact.obj}{predicate}。"


def article(world: World, group: list[Entity], rng: random.Random) -> dict[str, str]:
    """A news-like article: a headline from one fact, a body of facts from its topic."""
    lead = rng.choice(group)
    fact = rng.choice(lead.facts)
    topic = world.topics[lead.topic]
    title = f"{lead.name}、{fact.place}で{fact.obj}を{VERBS[fact.verb][rng.randrange(2)]}"
    body = [fact_sentence(lead, fact, rng.randrange(3), rng.randrange(2))]
    for _ in range(rng.randint(2, 5)):
        other = rng.choice(group)
        body.append(fact_sentence(other, rng.choice(other.facts), rng.randrange(3), rng.randrange(2)))
    body.append(topic_sentence(topic, rng))
    return {"category": topic.key, "title": title, "body": "".join(body)}


def pretrain_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, str]]:
    """Topic-coherent documents about training entities: facts, topic sentences, sentiment."""
    rng = random.Random(f"{seed}:pretrain")
    groups = world.by_topic(world.train)
    for i in range(cfg.pretrain_documents):
        t = rng.randrange(len(world.topics))
        topic = world.topics[t]
        sentences = [f"{topic.label}の話題。"]
        for _ in range(rng.randint(4, 10)):
            entity = rng.choice(groups[t])
            kind = rng.random()
            if kind < 0.7:
                sentences.append(fact_sentence(entity, rng.choice(entity.facts), rng.randrange(3), rng.randrange(2)))
            elif kind < 0.85:
                sentences.append(topic_sentence(topic, rng))
            else:
                sentences.append(sentiment_sentence(entity, rng, rng.random() < 0.5))
        yield {"id": f"synthetic-doc-{i:06d}", "text": "".join(sentences)}


def pair_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, str]]:
    """Training pairs from three sub-datasets, so batches can be task-homogeneous."""
    rng = random.Random(f"{seed}:pairs")
    groups = world.by_topic(world.train)
    for _ in range(cfg.pairs_per_dataset):
        entity = rng.choice(world.train)
        fact = rng.choice(entity.facts)
        t1, t2 = rng.sample(range(3), 2)
        yield {
            "anchor": fact_sentence(entity, fact, t1, 0),
            "positive": fact_sentence(entity, fact, t2, 1),
            "dataset": "synthetic_paraphrase",
        }
    for _ in range(cfg.pairs_per_dataset):
        row = article(world, groups[rng.randrange(len(world.topics))], rng)
        yield {"anchor": row["title"], "positive": row["body"], "dataset": "synthetic_title_body"}
    for _ in range(cfg.pairs_per_dataset):
        entity = rng.choice(world.train)
        yield {
            "anchor": question(entity, rng.choice(entity.facts), rng.randrange(3)),
            "positive": passage(world, entity, rng)["text"],
            "dataset": "synthetic_qa",
        }


def triplet_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(f"{seed}:triplets")
    groups = world.by_topic(world.train)
    for _ in range(cfg.triplets):
        entity = rng.choice(world.train)
        others = [e for e in groups[entity.topic] if e is not entity]
        negatives = rng.sample(others, min(cfg.hard_negatives, len(others)))
        yield {
            "question": question(entity, rng.choice(entity.facts), rng.randrange(3)),
            "positive": passage(world, entity, rng)["text"],
            "hard_negatives": [passage(world, e, rng)["text"] for e in negatives],
        }


def sts_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, Any]]:
    """Graded pairs: the label is how many of a fact's five slots (who, what was done, what, where,
    when) the second sentence keeps; replaced slots take other values from the same topic."""
    rng = random.Random(f"{seed}:sts")
    groups = world.by_topic(world.eval)
    for _ in range(cfg.sts_pairs):
        entity = rng.choice(world.eval)
        fact = rng.choice(entity.facts)
        keep = set(rng.sample(range(5), rng.randint(0, 5)))
        topic = world.topics[entity.topic]
        other = entity if 0 in keep else rng.choice([e for e in groups[entity.topic] if e is not entity])
        changed = Fact(
            fact.verb if 1 in keep else rng.choice([v for v in range(len(VERBS)) if v != fact.verb]),
            fact.obj if 2 in keep else rng.choice([w for w in topic.words if w != fact.obj]),
            fact.place if 3 in keep else rng.choice([p for p in world.places if p != fact.place]),
            fact.year if 4 in keep else rng.choice([y for y in YEARS if y != fact.year]),
        )
        t1, t2 = rng.sample(range(3), 2)
        yield {
            "sentence1": fact_sentence(entity, fact, t1, 0),
            "sentence2": fact_sentence(other, changed, t2, 1),
            "label": float(len(keep)),
        }


def retrieval_rows(world: World, cfg: SyntheticConfig, seed: int) -> tuple[list[dict], list[dict]]:
    """One passage per evaluation entity; each query is answered by exactly one of them, and its
    hard negatives are passages about other entities of the same topic."""
    rng = random.Random(f"{seed}:retrieval")
    passages = [passage(world, e, rng) for e in world.eval]
    groups = world.by_topic(world.eval)
    queries = []
    for i in range(cfg.queries):
        entity = rng.choice(world.eval)
        others = [e.pid for e in groups[entity.topic] if e is not entity]
        queries.append(
            {
                "qid": f"synthetic-q{i:05d}",
                "pid": entity.pid,
                "question": question(entity, rng.choice(entity.facts), rng.randrange(3)),
                "hard_neg_pids": rng.sample(others, min(cfg.hard_negatives, len(others))),
            }
        )
    return passages, queries


def news_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, str]]:
    rng = random.Random(f"{seed}:news")
    groups = world.by_topic(world.eval)
    for i in range(cfg.news_articles):
        row = article(world, groups[i % len(world.topics)], rng)
        yield {"id": f"synthetic-news-{i:05d}", **row}


def sentiment_rows(world: World, cfg: SyntheticConfig, seed: int) -> Iterator[dict[str, str]]:
    rng = random.Random(f"{seed}:sentiment")
    for i in range(cfg.sentiment_sentences):
        positive = i % 2 == 0
        sentence = sentiment_sentence(rng.choice(world.eval), rng, positive)
        yield {"sentence": sentence, "sentence_polarity": "positive" if positive else "negative"}


def synthetic_output_files(out_dir: str | Path = SYNTHETIC_DIR) -> dict[str, str]:
    """Every file the generator writes, by role (the rule declares these as outputs)."""
    return {role: str(Path(out_dir) / name) for role, name in SYNTHETIC_FILES.items()}


def generate_synthetic_data(cfg: SyntheticConfig, seed: int, outputs: Mapping[str, str | Path]) -> dict[str, int]:
    """Write every demo file (atomically) and return the number of rows of each."""
    if set(outputs) != set(SYNTHETIC_FILES):
        raise ValueError(f"outputs must name {sorted(SYNTHETIC_FILES)}, got {sorted(outputs)}")
    world = build_world(cfg, seed)
    if min(len(g) for g in world.by_topic(world.eval).values()) < 2:
        raise ConfigError(
            "config key 'synthetic.eval_entity_fraction': every topic needs at least two evaluation "
            "entities (raise it or synthetic.entities_per_topic)"
        )
    passages, queries = retrieval_rows(world, cfg, seed)
    rows = {
        "pretrain": list(pretrain_rows(world, cfg, seed)),
        "pairs": list(pair_rows(world, cfg, seed)),
        "triplets": list(triplet_rows(world, cfg, seed)),
        "sts": list(sts_rows(world, cfg, seed)),
        "passages": passages,
        "queries": queries,
        "news": list(news_rows(world, cfg, seed)),
        "sentiment": list(sentiment_rows(world, cfg, seed)),
    }
    for role, data in rows.items():
        atomic_write_jsonl(outputs[role], data)
        log.info("wrote %d rows to %s", len(data), outputs[role])
    return {role: len(data) for role, data in rows.items()}
