"""Loading the study config and typed views of the parts every stage shares.

The Snakefile validates the config with Snakemake's own `validate` at parse time; `load_config` runs
the very same validation (same schema, same defaults) for tests and command-line use, so a config
behaves identically inside and outside a workflow. Stage-specific sections are read by their own
modules (each with its own dataclass); this module holds only what all stages need: the arms.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

FAMILIES = {"modernbert": "mlm", "llama": "clm"}


class ConfigError(ValueError):
    """A config value that the schema allows but the study cannot use; names the key."""


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate in place with Snakemake's validator (fills schema defaults) plus cross-key checks."""
    from snakemake.utils import validate

    try:
        validate(config, str(SCHEMA_PATH))
    except Exception as err:
        # Snakemake flattens the jsonschema error into a multi-line string; find it again to name
        # the offending key on one line.
        cause = first_schema_error(config)
        if cause is None:
            raise
        raise ConfigError(f"{source}: {describe_validation_error(cause)}") from err
    check_cross_references(config, source)
    return config


def first_schema_error(config: Mapping[str, Any]) -> Any:
    """The most relevant jsonschema error of `config`, resolving the schema's relative $refs."""
    import jsonschema
    from referencing import Registry, Resource

    def retrieve(uri: str) -> Resource:
        path = SCHEMA_PATH.parent / Path(uri).name
        return Resource.from_contents(yaml.safe_load(path.read_text(encoding="utf-8")))

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["$id"] = SCHEMA_PATH.as_uri()
    validator = jsonschema.Draft202012Validator(schema, registry=Registry(retrieve=retrieve))
    return jsonschema.exceptions.best_match(validator.iter_errors(config))


def describe_validation_error(err: Any) -> str:
    """One line naming the offending key, e.g. `pretrain.stages[0].seq_len: 'x' is not of type 'integer'`."""
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
    return f"config key '{key or '<top level>'}': {err.message}"


def load_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read a YAML config, apply `--config`-style top-level overrides, validate and fill defaults."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with path.open(encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    config = deep_update(config, dict(overrides or {}))
    return validate_config(config, source=str(path))


def deep_update(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `update` into a copy of `base`, recursing into mappings (as Snakemake merges configs)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_update(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class Arm:
    """One arm of the study: a model lineage compared under the same conditions as the others.

    Arms are data, not code: rules take an `{arm}` wildcard and read everything else from here.
    """

    name: str
    display_name: str
    family: str
    objective: str
    size: str
    init: str = "scratch"
    init_from: str | None = None
    pretrain_stages: tuple[str, ...] = field(default_factory=tuple)
    token_budget_scale: float = 1.0
    bidirectional: bool = True
    pooling: str = "mean"

    @property
    def is_encoder(self) -> bool:
        return self.family == "modernbert"

    @property
    def final_pretrain_stage(self) -> str | None:
        return self.pretrain_stages[-1] if self.pretrain_stages else None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Arm":
        data = dict(raw)
        data["pretrain_stages"] = tuple(data.get("pretrain_stages", ()))
        return cls(**data)


def arms(config: Mapping[str, Any]) -> list[Arm]:
    return [Arm.from_dict(a) for a in config["arms"]]


def arm_names(config: Mapping[str, Any]) -> list[str]:
    return [a["name"] for a in config["arms"]]


def get_arm(config: Mapping[str, Any], name: str) -> Arm:
    for raw in config["arms"]:
        if raw["name"] == name:
            return Arm.from_dict(raw)
    raise ConfigError(f"unknown arm '{name}'; config.arms has {arm_names(config)}")


def check_cross_references(config: Mapping[str, Any], source: str = "config") -> None:
    """Checks a JSON schema cannot express: unique names and references between sections."""
    names = arm_names(config)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: config key 'arms': duplicate arm names {dupes}")
    stage_names = [s["name"] for s in config.get("pretrain", {}).get("stages", [])]
    corpora = config.get("corpora", {})
    for i, stage in enumerate(config.get("pretrain", {}).get("stages", [])):
        for corpus in stage.get("corpora", []):
            if corpus not in corpora:
                raise ConfigError(
                    f"{source}: config key 'pretrain.stages[{i}].corpora': unknown corpus "
                    f"'{corpus}'; config.corpora has {sorted(corpora)}"
                )
    for i, raw in enumerate(config["arms"]):
        arm = Arm.from_dict(raw)
        if FAMILIES[arm.family] != arm.objective:
            raise ConfigError(
                f"{source}: config key 'arms[{i}].objective': family '{arm.family}' is trained "
                f"with '{FAMILIES[arm.family]}', not '{arm.objective}'"
            )
        for stage in arm.pretrain_stages:
            if stage not in stage_names:
                raise ConfigError(
                    f"{source}: config key 'arms[{i}].pretrain_stages': unknown stage '{stage}'; "
                    f"config.pretrain.stages has {stage_names}"
                )
        if arm.init == "pretrained" and not arm.init_from:
            raise ConfigError(
                f"{source}: config key 'arms[{i}].init_from': required when init is 'pretrained'"
            )
        if arm.init == "scratch" and not arm.pretrain_stages:
            raise ConfigError(
                f"{source}: config key 'arms[{i}].pretrain_stages': a scratch arm needs at least "
                "one pretraining stage"
            )


def export_package_path() -> None:
    """Put this checkout's `src/` on PYTHONPATH so that jobs running in a conda env (which lists only
    the dependencies) or on a cluster node import the same twinarch as the Snakefile."""
    import os

    src = str(REPO_ROOT / "src")
    current = os.environ.get("PYTHONPATH", "")
    if src not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, current) if p)


def resolve_path(config: Mapping[str, Any], path: str) -> str:
    """Expand `{data_root}` in a configured path (so `--config data_root=...` moves all local data)."""
    return path.replace("{data_root}", str(config.get("data_root", "../shared/data")))


def pretrained_model_dir(arm: str, stage: str) -> str:
    """Where the workflow writes an arm's pretrained Hugging Face model after one stage."""
    return f"results/pretrain/{arm}/{stage}/model"


def base_model_source(config: Mapping[str, Any], arm_name: str) -> str:
    """The model an arm's embedding training starts from: its last pretraining stage's output, or
    the hub id / local directory of a pretrained arm (which skips our pretraining)."""
    arm = get_arm(config, arm_name)
    if arm.init == "pretrained":
        return resolve_path(config, str(arm.init_from))
    return pretrained_model_dir(arm.name, str(arm.final_pretrain_stage))
