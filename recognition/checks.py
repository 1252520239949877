"""Django system check for the engine: a bad FACEGATE_* setting or a missing model file is reported by
`manage.py check` and at every start, before the first photo or frame fails on it.

Register it from an app's `ready()` (django.contrib.auth's pattern): `checks.register(engine_check)`.
It only reads settings and looks for the files; `python -m recognition check-config` also loads and runs
every model.
"""

from django.core import checks

from recognition.config import ConfigError, EngineConfig
from recognition.models.weights import KINDS, dat_path

__all__ = ["engine_check"]


def engine_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        EngineConfig.from_env()
    except ConfigError as error:
        errors.append(
            checks.Error(
                str(error),
                hint="python -m recognition check-config lists every setting with its meaning",
                id="recognition.E001",
            )
        )
    for kind, spec in KINDS.items():
        try:
            dat_path(spec.dat_name)
        except FileNotFoundError as error:
            errors.append(checks.Error(f"{kind} weights: {error}", id="recognition.E002"))
    return errors
