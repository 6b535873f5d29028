# Shared by every stage. No logic here: functions only hand config values to the tested package.
from twinarch import config as twinarch_config
from twinarch.resources import rule_resources as _rule_resources

ARMS = twinarch_config.arm_names(config)
CONDA_ENV = f"../../envs/{config['conda_env']}.yaml"


wildcard_constraints:
    arm="|".join(ARMS),


def rule_resources(group):
    """Resources of one rule group (`mem_mb`, `runtime`, `gpu`, ...), from config.resources."""
    return _rule_resources(config, group)


def arm_section(name):
    return dict(twinarch_config.get_arm(config, name).__dict__)


def arm_config(wildcards):
    """The arm's config entry, passed as a param so that editing it re-runs only its jobs."""
    return arm_section(wildcards.arm)
