"""Loading the study config and typed views of the parts every stage shares.

`validate_config` is Snakemake's own `validate` against workflow/schemas/config.schema.yaml (the
stage schemas it references included), so a config behaves identically inside and outside a
workflow: same schema, same defaults. Stage-specific sections are read by their own stage's
`config` module (each with its own dataclass); this module holds only what all stages need: the arms.
Checks across sections (an arm's steps exist, a baseline arm is an arm) are
`twinarch.study.checks`, which alone knows every stage.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

FAMILIES = {"modernbert": "mlm", "llama": "clm"}


class ConfigError(ValueError):
    """A config value that the schema allows but the study cannot use; names the key."""


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate in place with Snakemake's validator against the schemas (fills their defaults)."""
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
    config["arms"] = expand_sizes(config["arms"])
    sorted_copy = canonical_order(config)
    config.clear()
    config.update(sorted_copy)
    return config


def size_slug(size: str) -> str:
    """A size preset's name as an arm-name suffix (lowercase, `-` to `_`)."""
    return size.lower().replace("-", "_").replace(".", "_")


def expand_sizes(arms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Arms with a `sizes` list become one arm per size, `<name>_<size>` with `size` set and the size
    in the display name, in the list's order and in the arm's place: a size ladder is written once
    and every stage runs per size, both families at the same preset. An arm that `extends` a laddered
    arm without a size of its own inherits the ladder and extends the same size. A size may be given
    as `{size: ..., token_budget_scale: ...}`: that rung's budgets are scaled by it, times the arm's
    own scale (a budget that grows with the model, the same for both families and for the steps
    that extend them).

    A study's rung that would train exactly what one of the paper's arms trains (same family,
    objective, size, steps, budget and settings: everything but the names) is that arm: no second
    arm is made, the paper arm joins the study (`also_in`), and the arms that extend the rung extend
    it. Retraining it would give the same models bit for bit, at the cost of a whole chain."""
    ladders = {arm["name"]: arm["sizes"] for arm in arms if arm.get("sizes")}
    paper_arms = [arm for arm in arms if not arm.get("sizes") and not arm.get("study") and arm.get("size")]
    reused: dict[str, str] = {}  # rung name -> the paper arm it is
    expanded: list[dict[str, Any]] = []
    for arm in arms:
        sizes = arm.get("sizes") or (ladders.get(arm.get("extends")) if not arm.get("size") else None)
        if not sizes:
            if not arm.get("size"):
                raise ConfigError(
                    f"config key 'arms' ({arm['name']}): no size, and the arm it extends "
                    f"({arm.get('extends')}) has no `sizes` ladder to follow"
                )
            expanded.append(arm)
            continue
        if arm.get("extends") and arm["extends"] in ladders and list(ladders[arm["extends"]]) != list(sizes):
            raise ConfigError(
                f"config key 'arms' ({arm['name']}): sizes {list(sizes)} differ from those of the arm it "
                f"extends, {arm['extends']} ({list(ladders[arm['extends']])})"
            )
        for rung in sizes:
            size = rung["size"] if isinstance(rung, Mapping) else rung
            entry = {k: copy.deepcopy(v) for k, v in arm.items() if k != "sizes"}
            entry.update(name=f"{arm['name']}_{size_slug(size)}", size=size)
            if isinstance(rung, Mapping) and "token_budget_scale" in rung:
                entry["token_budget_scale"] = rung["token_budget_scale"] * arm.get("token_budget_scale", 1.0)
            entry["display_name"] = f"{arm['display_name']} ({size})"
            if arm.get("extends") in ladders:
                extends = f"{arm['extends']}_{size_slug(size)}"
                entry["extends"] = reused.get(extends, extends)
            same = next((p for p in paper_arms if same_training(p, entry)), None) if entry.get("study") else None
            if same is not None:
                reused[entry["name"]] = same["name"]
                same.setdefault("also_in", [])
                if entry["study"] not in same["also_in"]:
                    same["also_in"].append(entry["study"])
                continue
            expanded.append(entry)
    return expanded


# Keys that name or file an arm; every other key shapes what the arm trains.
NAMING_KEYS = frozenset({"name", "display_name", "study", "also_in"})


def same_training(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two arm entries train the same models (they differ at most in their names)."""

    def training(arm: Mapping[str, Any]) -> Arm:
        return Arm.from_dict({k: v for k, v in arm.items() if k not in NAMING_KEYS} | {"name": "-"})

    return training(a) == training(b)


def canonical_order(value: Any) -> Any:
    """`value` with every mapping's keys sorted (lists keep their order).

    Snakemake compares a job's params by their repr, and a dict's repr follows its key order: without
    this, reordering keys in a YAML file (or a tool rewriting it) would rerun every job. Where order
    means something in the config, it is a list.
    """
    if isinstance(value, Mapping):
        return {key: canonical_order(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical_order(item) for item in value]
    return value


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


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
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
    `steps` are the arm's training steps before embedding training, in order (pretraining stages of
    `config.pretrain.stages`); `twinarch.study.lineage` resolves what each step starts from.

    A stage's job gets only the keys that shape its output (`arm_fragment`), so a job can build an
    Arm from a fragment: the display name then defaults to the name, the objective to the family's.
    """

    name: str
    family: str
    display_name: str = ""
    objective: str = ""
    size: str = ""
    init: str = "scratch"
    init_from: str | None = None
    steps: tuple[str, ...] = field(default_factory=tuple)
    extends: str | None = None
    study: str | None = None
    also_in: tuple[str, ...] = ()
    token_budget_scale: float = 1.0
    bidirectional: bool = True
    pooling: str = "mean"

    @property
    def is_encoder(self) -> bool:
        return self.family == "modernbert"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Arm:
        data = dict(raw)
        data["steps"] = tuple(data.get("steps", ()))
        data["also_in"] = tuple(data.get("also_in", ()))
        data["display_name"] = data.get("display_name") or data["name"]
        data["objective"] = data.get("objective") or FAMILIES[data["family"]]
        return cls(**data)


def arm_fragment(config: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The keys of one arm's entry that shape a stage's output (a job's param): a stage that
    does not print the display name never reruns when it changes."""
    entry = next((a for a in config["arms"] if a["name"] == name), None)
    if entry is None:
        raise ConfigError(f"unknown arm '{name}'; config.arms has {arm_names(config)}")
    return {k: entry[k] for k in keys if k in entry}


def arms(config: Mapping[str, Any]) -> list[Arm]:
    return [Arm.from_dict(a) for a in config["arms"]]


def arm_names(config: Mapping[str, Any], study: str | None = None, *, every: bool = True) -> list[str]:
    """Arm names in config order: every arm, or (every=False) the arms of one study (None: the
    paper's own comparison; a study's arms include the paper arms it reuses, `also_in`)."""
    return [
        a["name"]
        for a in config["arms"]
        if every or a.get("study") == study or (study is not None and study in a.get("also_in", ()))
    ]


def check_seed_subset(config: Mapping[str, Any], key: str, seeds: Any) -> None:
    """A study that runs on some replicate seeds only (`<section>.seeds`) names seeds of `config.seeds`:
    any other has no models to measure, which Snakemake would report as a missing input of a rule."""
    unknown = sorted(set(seeds or ()) - {int(s) for s in config["seeds"]})
    if unknown:
        raise ConfigError(
            f"config key '{key}': replicate seeds {unknown} are not in config.seeds {list(config['seeds'])}"
        )


def get_arm(config: Mapping[str, Any], name: str) -> Arm:
    for raw in config["arms"]:
        if raw["name"] == name:
            return Arm.from_dict(raw)
    raise ConfigError(f"unknown arm '{name}'; config.arms has {arm_names(config)}")


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
