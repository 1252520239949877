"""Engine settings: typed, range-checked, read from FACEGATE_* environment variables.

Frigate's config pattern without pydantic: one frozen dataclass per group, each field carrying its default,
its bounds, its variable and its help. A value of the wrong type or out of range raises `ConfigError` naming
the setting; so does a FACEGATE_* variable that is not a setting but looks like a misspelt one (other
components own other FACEGATE_* variables, so those are left alone). `describe()` lists every setting.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recognition.cores import host_cores
from recognition.operating_point import COHORT_THRESHOLD, DEFAULT_THRESHOLD

__all__ = ["ConfigError", "EngineConfig", "QualityConfig"]

DEVICES = ("auto", "cpu", "cuda")


def cache_dir() -> Path:
    """Where converted weights and bench caches live: $FACEGATE_CACHE_DIR, else ~/.cache/facegate."""
    return Path(os.environ.get("FACEGATE_CACHE_DIR") or Path.home() / ".cache" / "facegate")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and says what it accepts."""


def _setting(default=dataclasses.MISSING, *, env: str, help: str, ge=None, le=None, default_factory=None):
    """A field with its environment variable, its help and its bounds (inclusive)."""
    metadata = {"env": env, "help": help, "ge": ge, "le": le}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class _Validated:
    """Checks every field of a frozen dataclass against its annotation and bounds after construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for spec in dataclasses.fields(self):
            value, name = getattr(self, spec.name), spec.metadata.get("env", spec.name)
            kinds = typing.get_args(hints[spec.name]) or (hints[spec.name],)
            if float in kinds and type(value) is int:
                value = float(value)
                object.__setattr__(self, spec.name, value)
            # bool is an int to Python, but never a size or a threshold
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ConfigError(f"{name} must be {_type_words(kinds)}, got {value!r}")
            ge, le = spec.metadata.get("ge"), spec.metadata.get("le")
            # written as "not inside" so that NaN, which compares False with everything, is refused too
            if value is not None and not ((ge is None or value >= ge) and (le is None or value <= le)):
                raise ConfigError(f"{name} must be within [{_bound(ge)}, {_bound(le)}], got {value!r}")


@dataclass(frozen=True)
class QualityConfig(_Validated):
    """What an enrollment photo must show (recognition.quality).

    Measured with this engine on the first photo of 200 shared identities (LFW, faces 80-164 px):
    - sharpness: originals p1 15.4, p5 20.3, median 48; the same photos Gaussian-blurred with sigma 1.5:
      median 10.9, p95 21.6; sigma 2.5: median 5.7, p99 16.0; sigma 4: max 10.7. At 15, 99.5% of the
      originals pass and 78.5% / 98.5% / 100% of the sigma 1.5 / 2.5 / 4 copies are refused.
    - yaw: median |yaw| 9 degrees, p95 30, p99 41. People enrolled from a photo turned more than 25 degrees
      (16 of 200) had 52-54% of their other photos accepted at the match threshold, against 62-70% below 25.
    - roll: LFW is roll-aligned (p99 12.5, max 22 degrees); alignment undoes roll, so the limit only refuses
      clearly tilted heads. The detector still finds faces turned 45 degrees, read as 41-50 degrees of roll.
    """

    min_face_size: int = _setting(
        80,
        env="FACEGATE_QUALITY_MIN_FACE_SIZE",
        help="smallest face box, in pixels, accepted for enrollment (the detector's own window is 80 px)",
        ge=20,
        le=2000,
    )
    min_sharpness: float = _setting(
        15.0,
        env="FACEGATE_QUALITY_MIN_SHARPNESS",
        help="smallest variance of the Laplacian of the grey face square of the aligned chip",
        ge=0,
        le=10_000,
    )
    max_yaw: float = _setting(
        25.0,
        env="FACEGATE_QUALITY_MAX_YAW",
        help="largest estimated head turn, degrees left or right",
        ge=0,
        le=90,
    )
    max_roll: float = _setting(
        25.0,
        env="FACEGATE_QUALITY_MAX_ROLL",
        help="largest tilt of the eye line, degrees",
        ge=0,
        le=90,
    )


@dataclass(frozen=True)
class EngineConfig(_Validated):
    """How the recognition engine runs. Build it with `from_env()`; `dataclasses.replace` re-validates."""

    device: str = _setting(
        "auto", env="FACEGATE_DEVICE", help="'auto' (cuda when available, else cpu), 'cpu' or 'cuda'"
    )
    batch_size: int = _setting(
        16,
        env="FACEGATE_BATCH_SIZE",
        help="images per detector pass and faces per face-code pass",
        ge=1,
        le=1024,
    )
    min_face_size: int | None = _setting(
        None,
        env="FACEGATE_MIN_FACE_SIZE",
        help="smallest face, in pixels, that cameras look for (unset: every face the detector can find)",
        ge=1,
        le=4000,
    )
    # dlib's 0.6 is a pair-verification operating point: with 150 people enrolled from one LFW photo each, it
    # lets 47% of never-enrolled people match someone. Both defaults are calibrated for 1:N search from a
    # false-accept target by bench/identify.py (see recognition.calibration); Django's settings read the
    # same variable with the same default.
    match_threshold: float = _setting(
        DEFAULT_THRESHOLD,
        env="FACEGATE_MATCH_THRESHOLD",
        help="largest face-code distance that counts as the same person: in enrollment's conflict check, and "
        "at cameras without a threshold of their own while no cohort is installed (default: 1% false "
        "accepts)",
        ge=0.05,
        le=2.0,
    )
    cohort_threshold: float = _setting(
        COHORT_THRESHOLD,
        env="FACEGATE_COHORT_THRESHOLD",
        help="largest cohort-normalised score that counts as the same person, at cameras without a "
        "threshold of their own while a cohort is installed (default: 1% false accepts)",
        ge=0.05,
        le=2.0,  # a score of 1 is as far as the query's nearest strangers; 2 would let nearly anyone in
    )
    # A task runs on its own core(s); its model stages also borrow the host's idle cores (recognition.cores).
    # Fixed extra threads would fight: two torch threads per process on a 2-core host made the face coder 30x
    # slower as soon as another process held the other core (bench/pipeline.py --shared-cores 0
    # --torch-threads 2).
    torch_threads: int = _setting(
        1,
        env="FACEGATE_TORCH_THREADS",
        help="CPU threads (and cores) each engine task runs on by itself; more worker processes scale better",
        ge=1,
        le=256,
    )
    shared_cores: int = _setting(
        env="FACEGATE_SHARED_CORES",
        help="CPU cores the host's engine processes share, each model stage borrowing those no task holds "
        "(default: the cores this process may use; 0: no sharing, FACEGATE_TORCH_THREADS always)",
        ge=0,
        le=4096,
        default_factory=host_cores,
    )
    cache_dir: Path = _setting(
        env="FACEGATE_CACHE_DIR",
        help="where converted weights are cached (default ~/.cache/facegate)",
        default_factory=cache_dir,
    )
    quality: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.device not in DEVICES:
            raise ConfigError(f"FACEGATE_DEVICE must be one of {', '.join(DEVICES)}, got {self.device!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EngineConfig:
        """Settings from FACEGATE_* variables; unset ones keep their defaults."""
        _refuse_misspelt(environ)
        quality = QualityConfig(**_read(QualityConfig, environ))
        return cls(**_read(cls, environ), quality=quality)

    def describe(self) -> list[str]:
        """`VARIABLE=value  # help` for every setting, for check-config."""
        lines = []
        for group in (self, self.quality):
            for spec in _settings(type(group)):
                value = getattr(group, spec.name)
                shown = "" if value is None else value
                lines.append(f"{spec.metadata['env']}={shown}  # {spec.metadata['help']}")
        return lines


def _settings(config_type: type) -> list[dataclasses.Field]:
    return [spec for spec in dataclasses.fields(config_type) if "env" in spec.metadata]


def _read(config_type: type, environ: Mapping[str, str]) -> dict[str, object]:
    hints = typing.get_type_hints(config_type)
    values: dict[str, object] = {}
    for spec in _settings(config_type):
        text = environ.get(spec.metadata["env"])
        if text is None or text.strip() == "":
            continue
        values[spec.name] = _parse(text.strip(), hints[spec.name], spec.metadata["env"])
    return values


def _parse(text: str, annotation: object, env: str) -> object:
    kinds = [kind for kind in typing.get_args(annotation) or (annotation,) if kind is not type(None)]
    kind = kinds[0]
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{env} must be {_type_words(tuple(kinds))}, got {text!r}") from None


def _refuse_misspelt(environ: Mapping[str, str]) -> None:
    known = [spec.metadata["env"] for group in (EngineConfig, QualityConfig) for spec in _settings(group)]
    for name in environ:
        if not name.startswith("FACEGATE_") or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.9)
        if close or name.startswith("FACEGATE_QUALITY_"):
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            raise ConfigError(f"{name} is not an engine setting; {hint}")


def _type_words(kinds: tuple) -> str:
    words = {int: "a whole number", float: "a number", str: "text", Path: "a path", type(None): "unset"}
    return " or ".join(words.get(kind, getattr(kind, "__name__", str(kind))) for kind in kinds)


def _bound(value: float | None) -> str:
    return "..." if value is None else f"{value:g}"
