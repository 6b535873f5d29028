"""Checks across the config's sections, run at parse time before any job starts.

The schemas check each section on its own (types, ranges, unknown keys); what only the whole study
can check is here: names that one section gives and another uses, and settings of one stage that
another stage's models must accommodate. Every message names the config key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinarch.core.config import FAMILIES, Arm, ConfigError
from twinarch.core.config import load_config as load_schema_checked
from twinarch.embed.config import EmbedSection
from twinarch.evaluate.config import EvaluateSettings, evaluation_task_names
from twinarch.ladder.config import check_ladder_section
from twinarch.llm2vec.config import check_llm2vec_section
from twinarch.profile.config import check_profile_section
from twinarch.prune.config import check_prune_section
from twinarch.quality.config import check_quality_section
from twinarch.sensitivity.config import check_sensitivity_section
from twinarch.study.lineage import pre_embedding_steps, step_stage


def check_arms(config: Mapping[str, Any], source: str) -> None:
    names = [a["name"] for a in config["arms"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: config key 'arms': duplicate arm names {dupes}")
    for i, raw in enumerate(config["arms"]):
        arm = Arm.from_dict(raw)
        if FAMILIES[arm.family] != arm.objective:
            raise ConfigError(
                f"{source}: config key 'arms[{i}].objective': family '{arm.family}' is trained "
                f"with '{FAMILIES[arm.family]}', not '{arm.objective}'"
            )
        for step in arm.steps:
            try:
                step_stage(config, step)
            except ConfigError as err:
                raise ConfigError(f"{source}: config key 'arms[{i}].steps': {err}") from None
        if arm.extends is not None:
            if arm.extends not in names or arm.extends == arm.name:
                raise ConfigError(f"{source}: config key 'arms[{i}].extends': no other arm named '{arm.extends}'")
            parent = Arm.from_dict(config["arms"][names.index(arm.extends)])
            if parent.family != arm.family:
                raise ConfigError(
                    f"{source}: config key 'arms[{i}].extends': arm '{arm.extends}' is a {parent.family}, "
                    f"arm '{arm.name}' a {arm.family}"
                )
            seen, current = {arm.name}, parent
            while current.extends is not None:
                if current.extends in seen or current.extends not in names:
                    raise ConfigError(f"{source}: config key 'arms[{i}].extends': arms extend each other in a loop")
                seen.add(current.name)
                current = Arm.from_dict(config["arms"][names.index(current.extends)])
        if arm.init == "pretrained" and not arm.init_from:
            raise ConfigError(f"{source}: config key 'arms[{i}].init_from': required when init is 'pretrained'")


def check_pretraining(config: Mapping[str, Any], source: str) -> None:
    """Stage corpora exist, and every scratch arm's models hold every stage's sequence length (a
    stage-2 length above the models' positions would otherwise fail after stage 1 has trained)."""
    corpora = config.get("corpora", {})
    stages = config["pretrain"]["stages"]
    for i, stage in enumerate(stages):
        for corpus in stage.get("corpora", []):
            if corpus not in corpora:
                raise ConfigError(
                    f"{source}: config key 'pretrain.stages[{i}].corpora': unknown corpus "
                    f"'{corpus}'; config.corpora has {sorted(corpora)}"
                )
    positions = int(config["models"].get("max_position_embeddings", 8192))
    seq_lens = {s["name"]: s["seq_len"] for s in stages}
    for raw in config["arms"]:
        if raw.get("init", "scratch") != "scratch":
            continue
        for step in pre_embedding_steps(config, raw["name"]):
            if step.stage == "pretrain" and step.name in seq_lens and seq_lens[step.name] > positions:
                raise ConfigError(
                    f"{source}: config key 'models.max_position_embeddings': {positions} is below stage "
                    f"'{step.name}' seq_len {seq_lens[step.name]} of arm '{raw['name']}'; raise it"
                )


def check_study(config: Mapping[str, Any], source: str = "config") -> None:
    """Every check across sections; raises ConfigError naming the key."""
    check_arms(config, source)
    check_pretraining(config, source)
    EmbedSection.from_config(config)
    EvaluateSettings.from_config(config)
    evaluation_task_names(config)
    check_profile_section(config)
    check_quality_section(config)
    check_llm2vec_section(config, source)
    check_prune_section(config)
    check_sensitivity_section(config)
    check_ladder_section(config, source)


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a config as the workflow does: schema-validated, defaults filled, every check run."""
    config = load_schema_checked(path, overrides)
    check_study(config, str(path))
    return config
