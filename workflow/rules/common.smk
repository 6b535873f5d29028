# Shared by every stage, no logic: the checked study and its lineage (twinarch.study.rules), the
# arms and the conda environment every rule names.
from twinarch.study.rules import StudyRules

STUDY = StudyRules(config, source="config (after --configfile/--config)")
ARMS = STUDY.arms
CONDA_ENV = STUDY.conda_env


wildcard_constraints:
    arm="|".join(ARMS),
