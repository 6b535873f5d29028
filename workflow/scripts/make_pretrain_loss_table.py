"""Adapter: results/tables/pretrain_losses.{csv,md,tex}, every pretrained arm's final validation loss
beside the unigram reference of its stage's shards."""

from pathlib import Path

from twinarch.core.logs import setup_logging
from twinarch.core.tables import write_table
from twinarch.pretrain.unigram import loss_table, unigram_cross_entropy

setup_logging(snakemake.log[0])
params = snakemake.params
references = {
    stage: unigram_cross_entropy(path, params.eval_max_blocks)
    for stage, path in zip(params.stages, snakemake.input.shards, strict=True)
}
manifests = {tuple(key.split("/")): path for key, path in snakemake.input.items() if key.count("/") == 2}
table = loss_table(manifests, references, params.arms, params.stages)
write_table(
    table,
    Path(snakemake.output[0]).with_suffix(""),
    digits=2,
    caption=f"Pretraining: final validation loss against the unigram reference ({params.scale} scale, nats per token).",
    notes=[
        "Val. loss: the Trainer's loss on the stage's fixed validation blocks at the end of the stage"
        " (MLM: the masked tokens; CLM: every next token), mean over replicate seeds, with their standard deviation.",
        "Unigram: the cross-entropy of the same validation tokens under the training shards' token frequencies"
        " (add-one smoothed), what a model ignoring context reaches; log V: guessing uniformly over the vocabulary.",
        "Unigram - loss > 0: the arm has learnt something about context.",
    ],
)
