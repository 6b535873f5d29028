"""Recovery training of a pruned model: contrastive training like FT, with the stage's own settings.

The embedding stage's own training job (`twinarch.embed.run.train_stage`: its trainer builder, the
shared callbacks, fingerprinted resuming through `twinarch.training.run`) runs unchanged on the
pruned model; the only difference is that this process must know the pruned architectures before
the model loads. Launched like the embedding stage (`twinarch.core.launch`), so `python -m
twinarch.prune.recover SPEC.json` is what torchrun starts on every process.
"""

from __future__ import annotations

from typing import Any

from twinarch.core.launch import cli
from twinarch.embed.run import train_stage
from twinarch.prune.model import register_pruned_architectures


def main(spec: dict[str, Any]) -> None:
    """Spec keys as `twinarch.embed.run.train_stage`'s; `stage` is the config's `prune.recovery`."""
    register_pruned_architectures()
    train_stage(spec)


if __name__ == "__main__":
    cli(main)
