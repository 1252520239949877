"""The operating point: one default and one variable per threshold, and the rule that picks the scoring.

The rule's effect on real faces (a genuine probe let in, a stranger kept out) is tested with a real cohort in
tests/access/people/test_cohort.py; here the normaliser is any callable, since the rule never calls it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from recognition.config import ConfigError, EngineConfig
from recognition.operating_point import COHORT_THRESHOLD, DEFAULT_THRESHOLD, Scoring, scoring_for

REPO_ROOT = Path(__file__).resolve().parents[2]


def cohort(queries, distances, person_ids):
    return distances


def test_a_cameras_own_threshold_is_a_raw_distance_whether_or_not_a_cohort_is_installed():
    assert scoring_for(0.5, cohort) == Scoring(0.5, None)
    assert scoring_for(0.5, None) == Scoring(0.5, None)


def test_without_a_camera_threshold_a_cohort_scores_against_the_cohort_threshold():
    assert scoring_for(None, cohort) == Scoring(COHORT_THRESHOLD, cohort)
    assert scoring_for(None, cohort, default_threshold=0.4, cohort_threshold=0.7) == Scoring(0.7, cohort)


def test_with_neither_the_default_raw_distance_applies():
    assert scoring_for(None, None) == Scoring(DEFAULT_THRESHOLD, None)
    assert scoring_for(None, None, default_threshold=0.4, cohort_threshold=0.7) == Scoring(0.4, None)


def test_django_and_the_engine_read_one_variable_with_one_default():
    assert EngineConfig.from_env({}).match_threshold == DEFAULT_THRESHOLD
    assert EngineConfig.from_env({}).cohort_threshold == COHORT_THRESHOLD
    assert settings.FACEGATE_MATCH_THRESHOLD == EngineConfig.from_env().match_threshold
    assert DEFAULT_THRESHOLD < 0.6, "dlib's pair-verification 0.6 lets most strangers match someone in 1:N"


def test_the_cohort_threshold_is_read_from_its_variable_and_range_checked():
    assert EngineConfig.from_env({"FACEGATE_COHORT_THRESHOLD": "0.7"}).cohort_threshold == 0.7
    with pytest.raises(ConfigError, match=r"FACEGATE_COHORT_THRESHOLD must be within \[0.05, 2\]"):
        EngineConfig.from_env({"FACEGATE_COHORT_THRESHOLD": "78.5"})
    with pytest.raises(ConfigError, match="did you mean FACEGATE_COHORT_THRESHOLD"):
        EngineConfig.from_env({"FACEGATE_COHORT_TRESHOLD": "0.7"})
    assert EngineConfig.from_env({"FACEGATE_COHORT_FILE": "/data/cohort.enc"}) == EngineConfig()


def test_web_processes_read_the_default_threshold_without_loading_faiss_or_torch():
    code = (
        "import sys, django; django.setup(); import access.urls; "
        "print(sorted(name for name in ('faiss', 'torch') if name in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "access.settings.test"}
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
