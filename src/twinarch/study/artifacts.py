"""The paper's artifacts as data: which files make each one and which config sections shape it.

One registry drives the named targets (`table1`, `fig3`, ...), the provenance manifest and the
README's artifact map, so the three can never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinarch.core.io import FIGURE_SUFFIXES, TABLE_SUFFIXES
from twinarch.core.provenance import config_hash, git_commit, library_versions

# Sections that shape every trained model (the shared data, tokenizer and training conditions).
TRAINING_SECTIONS = ("seed", "arms", "corpora", "synthetic", "tokenizer", "shards", "models", "pretrain")


@dataclass(frozen=True)
class Artifact:
    name: str
    paper: str
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    sections: tuple[str, ...]
    # The extension study an artifact belongs to (None: the paper's own); `snakemake all` builds a
    # study's artifacts only when `config.studies` lists it, its named target always.
    study: str | None = None

    @property
    def files(self) -> list[str]:
        return [p + s for p in self.prefixes for s in self.suffixes]


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact(
        "table1",
        "Table 1 (JMTEB scores; pretrain-only rows in a second table)",
        ("results/tables/table1", "results/tables/table1_pretrain_only", "results/tables/table1_paired"),
        TABLE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "evaluate"),
    ),
    Artifact(
        "table2",
        "Table 2 (throughput and memory at the reference cell)",
        ("results/tables/table2",),
        TABLE_SUFFIXES,
        ("arms", "models", "device", "profile"),
    ),
    Artifact(
        "fig2",
        "Figure 2 (alignment and uniformity)",
        ("results/figures/fig2_alignment_uniformity",),
        FIGURE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "quality"),
    ),
    Artifact(
        "fig3",
        "Figure 3 (throughput against batch size)",
        ("results/figures/fig3_throughput",),
        FIGURE_SUFFIXES,
        ("arms", "models", "device", "profile"),
    ),
    Artifact(
        "fig4",
        "Figure 4 (memory against batch size)",
        ("results/figures/fig4_memory",),
        FIGURE_SUFFIXES,
        ("arms", "models", "device", "profile"),
    ),
    Artifact(
        "param_counts",
        "Model sizes (embedding and non-embedding parameters of every arm, matched within 1%)",
        ("results/models/param_counts",),
        TABLE_SUFFIXES,
        ("arms", "models", "tokenizer"),
    ),
    Artifact(
        "learning_curves",
        "Pretraining learning curves (validation loss against tokens)",
        ("results/figures/learning_curves",),
        FIGURE_SUFFIXES,
        TRAINING_SECTIONS,
    ),
    Artifact(
        "pretrain_losses",
        "Pretraining's final validation loss beside the unigram reference of its shards",
        ("results/tables/pretrain_losses",),
        TABLE_SUFFIXES,
        TRAINING_SECTIONS,
    ),
    Artifact(
        "llm2vec",
        "LLM2Vec's MNTP and SimCSE for decoders: Table 1 with their rows, and the paired comparisons",
        ("results/tables/table1_llm2vec", "results/tables/table1_llm2vec_paired"),
        TABLE_SUFFIXES,
        (*TRAINING_SECTIONS, "llm2vec", "embed", "evaluate"),
        study="llm2vec",
    ),
    Artifact(
        "pruning",
        "EffiR's MLP pruning: the importance of each layer's MLP, and the quality-speed trade-off",
        ("results/figures/prune_importance", "results/figures/prune_tradeoff"),
        FIGURE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "evaluate", "prune"),
        study="pruning",
    ),
    Artifact(
        "pruning_table",
        "EffiR's MLP pruning: the trade-off table (parameters, scores with intervals, throughput)",
        ("results/tables/prune_tradeoff",),
        TABLE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "evaluate", "prune"),
        study="pruning",
    ),
    Artifact(
        "sensitivity",
        "Where a sentence embedding looks: positional sensitivity of causal and bidirectional models",
        ("results/figures/sensitivity_head", "results/figures/sensitivity_position"),
        FIGURE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "sensitivity"),
        study="sensitivity",
    ),
    Artifact(
        "ladder",
        "Ettin's size ladder: Table 1's average against non-embedding parameters, encoders and decoders",
        ("results/figures/ladder",),
        FIGURE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "evaluate", "ladder"),
        study="ladder",
    ),
    Artifact(
        "ladder_tables",
        "Ettin's size ladder per category, and each size's cross-objective table (native against"
        " continued with the other objective; both validation losses)",
        ("results/tables/ladder",),
        TABLE_SUFFIXES,
        (*TRAINING_SECTIONS, "embed", "evaluate", "ladder"),
        study="ladder",
    ),
)


def get_artifact(name: str) -> Artifact:
    for artifact in ARTIFACTS:
        if artifact.name == name:
            return artifact
    raise KeyError(f"unknown artifact '{name}'; known: {[a.name for a in ARTIFACTS]}")


def selected(studies: Sequence[str] = ()) -> list[Artifact]:
    """The paper's artifacts and those of the listed extension studies."""
    return [a for a in ARTIFACTS if a.study is None or a.study in studies]


def artifact_files(name: str | None = None, studies: Sequence[str] = ()) -> list[str]:
    """Files of one artifact or study (every artifact of that name or study), or of the paper's
    artifacts and the listed studies'."""
    if name is None:
        chosen = selected(studies)
    else:
        chosen = [a for a in ARTIFACTS if name in (a.name, a.study)] or [get_artifact(name)]
    return [f for a in chosen for f in a.files]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(config: Mapping[str, Any], root: str | Path = ".") -> dict[str, Any]:
    """Every artifact with its files (size, sha256), the hash of the config sections that shape it,
    the git commit and library versions."""
    root = Path(root)
    entries = []
    for artifact in selected(config.get("studies", ())):
        fragment = {s: config.get(s) for s in artifact.sections}
        files = []
        for name in artifact.files:
            path = root / name
            files.append({"path": name, "bytes": path.stat().st_size, "sha256": _sha256(path)})
        entries.append(
            {
                "name": artifact.name,
                "paper": artifact.paper,
                "target": artifact.name,
                "config_hash": config_hash(fragment),
                "config_sections": list(artifact.sections),
                "files": files,
            }
        )
    return {
        "scale": config.get("scale"),
        "git_commit": git_commit(),
        "libraries": library_versions(),
        "config_hash": config_hash(dict(config)),
        "artifacts": entries,
    }
