"""Engine settings: typed values from FACEGATE_* variables, and a loud failure for anything that is off."""

import dataclasses
import math
import os
from pathlib import Path

import pytest

from recognition.checks import engine_check
from recognition.config import ConfigError, EngineConfig, QualityConfig, cache_dir
from recognition.models.weights import KINDS


def test_the_defaults_are_what_an_empty_environment_gives():
    config = EngineConfig.from_env({})

    assert config == EngineConfig()
    assert (config.device, config.batch_size, config.min_face_size) == ("auto", 16, None)
    assert config.torch_threads == 1
    assert config.shared_cores == len(os.sched_getaffinity(0))  # every core this process may use
    assert config.cache_dir == cache_dir()
    assert config.quality == QualityConfig()


def test_variables_are_parsed_to_their_types():
    config = EngineConfig.from_env(
        {
            "FACEGATE_DEVICE": "cpu",
            "FACEGATE_BATCH_SIZE": " 32 ",
            "FACEGATE_MIN_FACE_SIZE": "120",
            "FACEGATE_MATCH_THRESHOLD": "0.5",
            "FACEGATE_CACHE_DIR": "/var/cache/facegate",
            "FACEGATE_QUALITY_MIN_SHARPNESS": "20",
            "FACEGATE_TORCH_THREADS": "4",
            "FACEGATE_SHARED_CORES": "0",
            "FACEGATE_QUALITY_MAX_ROLL": "",  # empty: the default
            "FACEGATE_DATA_DIR": "/srv/data",  # another component's variable: left alone
            "FACEGATE_FACEDATA": "/srv/facedata",
        }
    )

    assert (config.device, config.batch_size, config.min_face_size) == ("cpu", 32, 120)
    assert config.match_threshold == 0.5 and config.cache_dir == Path("/var/cache/facegate")
    assert config.torch_threads == 4 and config.shared_cores == 0
    assert config.quality == QualityConfig(min_sharpness=20.0)
    assert isinstance(config.quality.min_sharpness, float)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FACEGATE_BATCH_SIZE": "0"}, "FACEGATE_BATCH_SIZE must be within [1, 1024], got 0"),
        ({"FACEGATE_BATCH_SIZE": "1.5"}, "FACEGATE_BATCH_SIZE must be a whole number, got '1.5'"),
        ({"FACEGATE_MATCH_THRESHOLD": "nan"}, "FACEGATE_MATCH_THRESHOLD must be within [0.05, 2]"),
        ({"FACEGATE_MATCH_THRESHOLD": "close"}, "FACEGATE_MATCH_THRESHOLD must be a number, got 'close'"),
        ({"FACEGATE_DEVICE": "gpu"}, "FACEGATE_DEVICE must be one of auto, cpu, cuda, got 'gpu'"),
        ({"FACEGATE_QUALITY_MAX_YAW": "-5"}, "FACEGATE_QUALITY_MAX_YAW must be within [0, 90], got -5.0"),
        ({"FACEGATE_MATCH_TRESHOLD": "0.5"}, "did you mean FACEGATE_MATCH_THRESHOLD?"),
        ({"FACEGATE_QUALITY_MIN_LIGHT": "3"}, "FACEGATE_QUALITY_MIN_LIGHT is not an engine setting"),
    ],
)
def test_bad_values_and_misspelt_variables_fail_loudly(environ, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("?", r"\?")):
        EngineConfig.from_env(environ)


def test_values_set_in_code_are_checked_too():
    with pytest.raises(ConfigError, match="FACEGATE_MIN_FACE_SIZE must be a whole number or unset, got True"):
        EngineConfig(min_face_size=True)
    with pytest.raises(ConfigError, match="FACEGATE_QUALITY_MAX_ROLL must be within"):
        QualityConfig(max_roll=math.inf)
    with pytest.raises(ConfigError, match="FACEGATE_BATCH_SIZE must be within"):
        dataclasses.replace(EngineConfig(), batch_size=-1)
    with pytest.raises(TypeError, match="min_face_sise"):
        EngineConfig(min_face_sise=80)


def test_describe_names_every_variable_with_its_value():
    lines = EngineConfig(min_face_size=100).describe()

    assert "FACEGATE_MIN_FACE_SIZE=100  # " in "\n".join(lines)
    assert len(lines) == 12 and all(line.startswith("FACEGATE_") for line in lines)


def test_the_django_check_reports_a_bad_setting_by_its_name(monkeypatch):
    assert engine_check() == []

    monkeypatch.setenv("FACEGATE_QUALITY_MIN_FACE_SIZE", "5")

    (error,) = engine_check()
    assert error.id == "recognition.E001" and "FACEGATE_QUALITY_MIN_FACE_SIZE" in error.msg


def test_the_django_check_reports_missing_weights(monkeypatch):
    monkeypatch.setitem(KINDS, "detector", dataclasses.replace(KINDS["detector"], dat_name="missing.dat"))

    (error,) = engine_check()
    assert error.id == "recognition.E002" and "missing.dat" in error.msg
