"""Typed views of the config's `embed` section (schema: workflow/schemas/embed.schema.yaml).

Kept free of heavy imports: the Snakefile reads stage names and input files from here at parse time.
The dataclasses are built from the validated config dict, so their defaults only matter for code
that builds them by hand (tests); the schema's defaults are the ones a workflow run sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinarch.core.config import ConfigError, resolve_path
from twinarch.core.containment import TextExclusion, parse_exclusions
from twinarch.core.splits import Holdout
from twinarch.data.synthetic import SYNTHETIC_DIR
from twinarch.pretrain.config import OptimizerConfig

BASE_STAGE = "base"


@dataclass(frozen=True)
class Lookup:
    """Keys in some roles resolved to texts through a second JSON Lines file (JaQuAD pid -> passage)."""

    path: str
    key: str
    text: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ContrastiveDatasetSpec:
    """One configured source of (anchor, positive[, hard negatives]) rows."""

    name: str
    type: str
    columns: Mapping[str, str]
    dataset: str | None = None
    subsets: tuple[str, ...] | str | None = None
    split: str = "train"
    revision: str | None = None
    path: str | None = None
    file: str | None = None
    lookup: Lookup | None = None
    split_by: str | None = None
    min_score: Mapping[str, Any] | None = None
    holdout: Holdout | None = None
    max_rows: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""
    exclude: tuple[TextExclusion, ...] = ()

    @classmethod
    def from_dict(
        cls, name: str, raw: Mapping[str, Any], data_root_config: Mapping[str, Any]
    ) -> ContrastiveDatasetSpec:
        data = dict(raw)
        if data.get("path"):
            data["path"] = resolve_path(data_root_config, data["path"])
        if data.get("lookup"):
            lookup = dict(data["lookup"])
            lookup["path"] = resolve_path(data_root_config, lookup["path"])
            lookup["columns"] = tuple(lookup["columns"])
            data["lookup"] = Lookup(**lookup)
        if isinstance(data.get("subsets"), list):
            data["subsets"] = tuple(data["subsets"])
        data["holdout"] = Holdout.from_dict(data.get("holdout"))
        data["exclude"] = parse_exclusions(data.get("exclude"), lambda path: resolve_path(data_root_config, path))
        data["columns"] = dict(data["columns"])
        return cls(name=name, **data)

    @property
    def source_path(self) -> str | None:
        """The local file rows come from (None for hub datasets)."""
        if self.type == "synthetic":
            return f"{SYNTHETIC_DIR}/{self.file}"
        return self.path

    def needed_fields(self, k: int) -> list[str]:
        """Source fields that normalization reads; every row must have all of them."""
        roles = ["anchor", "positive"] + (["hard_negatives"] if k > 0 and "hard_negatives" in self.columns else [])
        fields = [self.columns[r] for r in roles]
        if self.min_score:
            fields.append(self.min_score["field"])
        if self.holdout:
            fields.append(self.holdout.field)
        if self.split_by:
            fields.append(self.split_by)
        return list(dict.fromkeys(fields))

    def local_files(self) -> list[str]:
        """Every local file this dataset reads (Snakemake inputs)."""
        files = [self.source_path] if self.source_path else []
        return files + ([self.lookup.path] if self.lookup else []) + [e.path for e in self.exclude]


@dataclass(frozen=True)
class EmbedStage:
    """Hyperparameters and data of one contrastive stage."""

    name: str
    datasets: tuple[ContrastiveDatasetSpec, ...]
    num_hard_negatives: int = 0
    max_rows_per_dataset: int | None = None
    max_seq_length: int = 256
    temperature: float = 0.01
    per_device_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    mini_batch_size: int = 32
    gather_across_devices: bool = False
    learning_rate: float = 5e-5
    optimizer: str = "adamw_torch_fused"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    epochs: float = 1.0
    max_steps: int = -1
    mixing: str = "proportional"
    mixing_alpha: float = 0.5
    no_duplicates: bool = True
    save_steps: int = 500
    save_total_limit: int = 2
    logging_steps: int = 10
    gradient_checkpointing: bool = False
    dataloader_num_workers: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], data_root_config: Mapping[str, Any] | None = None) -> EmbedStage:
        data = dict(raw)
        data["datasets"] = tuple(
            ContrastiveDatasetSpec.from_dict(name, spec, data_root_config or {})
            for name, spec in raw["datasets"].items()
        )
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return cls(**data)

    @property
    def loss_scale(self) -> float:
        """InfoNCE with temperature t is MultipleNegativesRankingLoss with scale 1/t."""
        return 1.0 / self.temperature

    @property
    def optimizer_config(self) -> OptimizerConfig:
        """The stage's optimizer and schedule in pretraining's terms, whose `check_installed` fails
        before training when the optimizer's optional package (schedulefree) is missing."""
        return OptimizerConfig(
            name=self.optimizer,
            betas=self.betas,
            eps=self.eps,
            weight_decay=self.weight_decay,
            lr_scheduler=self.lr_scheduler_type,
            warmup_ratio=self.warmup_ratio,
            max_grad_norm=self.max_grad_norm,
        )


@dataclass(frozen=True)
class EmbedSection:
    stages: tuple[EmbedStage, ...]
    normalize: bool = False
    base_max_seq_length: int = 512

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EmbedSection:
        section = config.get("embed") or {}
        if not section.get("stages"):
            raise ConfigError("config key 'embed.stages': at least one contrastive stage is required")
        stages = tuple(EmbedStage.from_dict(s, config) for s in section["stages"])
        names = [s.name for s in stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"config key 'embed.stages': duplicate stage names {dupes}")
        return cls(
            stages=stages,
            normalize=section.get("normalize", False),
            base_max_seq_length=section.get("base_max_seq_length", 512),
        )

    def stage(self, name: str) -> EmbedStage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"unknown embed stage '{name}'; config.embed.stages has {self.stage_names}")

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def previous(self, name: str) -> str:
        """The stage a stage starts from: the previous one, or the pretrain-only base model."""
        index = self.stage_names.index(self.stage(name).name)
        return self.stage_names[index - 1] if index else BASE_STAGE


def embed_stage_names(config: Mapping[str, Any]) -> list[str]:
    """Every {estage} of the study, base first: what evaluation and quality iterate over."""
    return [BASE_STAGE, *EmbedSection.from_config(config).stage_names]


# Settings that decide how a contrastive job runs, not what it computes: read from the config at run
# time, never a param, so editing them retrains nothing.
OPERATIONAL_KEYS = ("save_steps", "save_total_limit", "logging_steps", "dataloader_num_workers")
# What preparing a stage's data reads of the stage (its training settings do not change the data).
DATA_KEYS = ("name", "datasets", "num_hard_negatives", "max_rows_per_dataset")
# Arm keys that shape embedding models (pooling and the bidirectional switch).
ARM_KEYS = ("name", "family", "bidirectional", "pooling")


def _stage_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for raw in config["embed"]["stages"]:
        if raw["name"] == name:
            return dict(raw)
    raise ConfigError(
        f"unknown embed stage '{name}'; config.embed.stages has {[s['name'] for s in config['embed']['stages']]}"
    )


def stage_fragment(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What shapes one stage's training (a Snakemake param: editing it re-runs only that stage's
    jobs and what follows); no checkpoint or logging intervals."""
    return {k: v for k, v in _stage_entry(config, name).items() if k not in OPERATIONAL_KEYS}


def data_fragment(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What shapes one stage's contrastive datasets."""
    entry = _stage_entry(config, name)
    return {k: entry[k] for k in DATA_KEYS if k in entry}


def contrastive_job_spec(smk: Any, operational: Mapping[str, Any]) -> dict[str, Any]:
    """The spec a contrastive training adapter hands `twinarch.embed.run` (or a stage built on it, as
    pruning's recovery) from its Snakemake job: params, inputs, outputs, and the intervals and workers
    read from the config at run time (`operational`: editing them retrains nothing)."""
    params = smk.params
    return {
        "arm": params.arm,
        "stage": params.stage,
        "operational": dict(operational),
        "seed": params.seed,
        "device": params.device,
        "threads": smk.threads,
        "log_file": smk.log[0],  # workers append to the rule's log
        "init_model": smk.input.model,
        "data_dir": smk.input.data,
        "data_manifest": smk.input.data_manifest,
        "work_dir": params.work_dir,
        "out_model": smk.output.model,
        "out_manifest": smk.output.manifest,
    }


def operational_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """How one stage's jobs run: checkpoint and logging intervals, data-loader workers."""
    entry = _stage_entry(config, name)
    return {k: entry[k] for k in OPERATIONAL_KEYS if k in entry}
