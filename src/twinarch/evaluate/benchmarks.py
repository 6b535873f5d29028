"""The mteb benchmarks a config may name, as (task, category) pairs, frozen from mteb's registry.

Listing a benchmark's tasks through mteb imports torch and takes seconds; the workflow needs the
names at parse time, for every dry run. tests/evaluate/test_benchmarks.py checks each list against
the installed mteb, so a version bump that changes a benchmark fails the suite instead of drifting.
"""

from __future__ import annotations

from twinarch.core.config import ConfigError

BENCHMARKS: dict[str, tuple[tuple[str, str], ...]] = {
    "JMTEB(v2)": (
        ("LivedoorNewsClustering.v2", "Clustering"),
        ("MewsC16JaClustering", "Clustering"),
        ("SIB200ClusteringS2S", "Clustering"),
        ("AmazonReviewsClassification", "Classification"),
        ("AmazonCounterfactualClassification", "Classification"),
        ("MassiveIntentClassification", "Classification"),
        ("MassiveScenarioClassification", "Classification"),
        ("JapaneseSentimentClassification", "Classification"),
        ("SIB200Classification", "Classification"),
        ("WRIMEClassification", "Classification"),
        ("JSTS", "STS"),
        ("JSICK", "STS"),
        ("JaqketRetrieval", "Retrieval"),
        ("MrTidyRetrieval", "Retrieval"),
        ("JaGovFaqsRetrieval", "Retrieval"),
        ("NLPJournalTitleAbsRetrieval.V2", "Retrieval"),
        ("NLPJournalTitleIntroRetrieval.V2", "Retrieval"),
        ("NLPJournalAbsIntroRetrieval.V2", "Retrieval"),
        ("NLPJournalAbsArticleRetrieval.V2", "Retrieval"),
        ("JaCWIRRetrieval", "Retrieval"),
        ("MIRACLRetrieval", "Retrieval"),
        ("MintakaRetrieval", "Retrieval"),
        ("MultiLongDocRetrieval", "Retrieval"),
        ("ESCIReranking", "Reranking"),
        ("JQaRAReranking", "Reranking"),
        ("JaCWIRReranking", "Reranking"),
        ("MIRACLReranking", "Reranking"),
        ("MultiLongDocReranking", "Reranking"),
    ),
}


def benchmark_tasks(benchmark: str) -> tuple[tuple[str, str], ...]:
    """(task name, mteb category) of every task of a benchmark."""
    if benchmark not in BENCHMARKS:
        raise ConfigError(
            f"config key 'evaluate.benchmark': unknown benchmark '{benchmark}'; known: {sorted(BENCHMARKS)}"
        )
    return BENCHMARKS[benchmark]


def benchmark_task_names(benchmark: str) -> list[str]:
    return [name for name, _ in benchmark_tasks(benchmark)]
