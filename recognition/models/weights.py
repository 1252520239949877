"""The one weights loader: dlib .dat files from face_recognition_models, converted once to torch state dicts.

Each model module converts its own file (`convert_dat(path) -> state dict`, next to the network it fills,
as timm's `checkpoint_filter_fn`); this module finds the file, routes by an explicit kind, caches the result
under $FACEGATE_CACHE_DIR (default ~/.cache/facegate) keyed by the file's sha256, and loads it strictly.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from recognition.config import cache_dir

__all__ = [
    "COMMITTED",
    "KINDS",
    "WeightsKind",
    "dat_path",
    "load_committed",
    "load_state_dict",
    "load_weights",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsKind:
    dat_name: str  # file in face_recognition_models/models/
    converter: str  # "module:function" taking the .dat path and returning a state dict
    version: int  # bump when the converter's output changes, so caches of the old output are not reused


KINDS: dict[str, WeightsKind] = {
    "facecode": WeightsKind(
        "dlib_face_recognition_resnet_model_v1.dat", "recognition.models.facecode:convert_dat", 1
    ),
    "detector": WeightsKind("mmod_human_face_detector.dat", "recognition.models.detector:convert_dat", 1),
    "landmarks": WeightsKind(
        "shape_predictor_5_face_landmarks.dat", "recognition.models.landmarks:convert_dat", 1
    ),
}


# Weights trained here and committed with their model card (recognition/models/cards/), by kind.
COMMITTED: dict[str, Path] = {"parser": Path(__file__).parent / "checkpoints" / "parser.pt"}


def dat_path(name: str) -> Path:
    """Path of a .dat file shipped by face_recognition_models, found without importing the package (it
    imports pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the face_recognition_models package is not installed; pip install it")
    path = Path(spec.submodule_search_locations[0]) / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face_recognition_models")
    return path


def load_state_dict(kind: str) -> dict[str, torch.Tensor]:
    """The weights of `kind`: committed ones as they are; dlib's converted from the .dat once and cached."""
    if kind in COMMITTED:
        return load_committed(COMMITTED[kind])
    spec = _kind(kind)
    source = dat_path(spec.dat_name)
    cached = cache_dir() / f"{kind}-v{spec.version}-{_sha256(source)}.pt"
    if cached.is_file():
        try:
            return _checked(torch.load(cached, map_location="cpu", weights_only=True), cached)
        except Exception as error:  # unreadable cache of any sort: rebuild it from the .dat
            logger.warning("rebuilding %s: %s", cached, error)
    state_dict = _checked(_converter(spec)(source), source)
    try:
        _save_atomically(state_dict, cached)
    except OSError as error:  # a read-only cache costs a conversion per process, not the service
        logger.warning("cannot cache %s: %s", cached, error)
    return state_dict


def load_committed(path: Path) -> dict[str, torch.Tensor]:
    """A state dict trained here and committed (fp16 values load into fp32 parameters as they are)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train it with `python -m recognition.training.train_parser`"
        )
    return _checked(torch.load(path, map_location="cpu", weights_only=True), path)


def load_weights(model: nn.Module, kind: str) -> nn.Module:
    """Fill `model` with the weights of `kind`; mismatched or missing keys and shapes raise RuntimeError."""
    model.load_state_dict(load_state_dict(kind), strict=True)
    return model


def _kind(kind: str) -> WeightsKind:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted([*KINDS, *COMMITTED]))
        raise KeyError(f"unknown weights kind {kind!r}; known: {known}") from None


def _converter(spec: WeightsKind):
    module_name, function_name = spec.converter.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(state_dict: object, origin: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state_dict, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state_dict.items()
    ):
        raise ValueError(f"{origin} did not give a state dict of named tensors")
    return state_dict


def _save_atomically(state_dict: dict[str, torch.Tensor], path: Path) -> None:
    # Write beside the target and rename, so a reader in another process never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            torch.save(state_dict, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
