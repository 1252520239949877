"""Gallery search: latency p50/p99 and recall@1 of exact Flat against the approximate index, 10k to 1M codes.

    nice -n 10 .venv/bin/python bench/gallery.py                      # 10k, 100k, 1M
    nice -n 10 .venv/bin/python bench/gallery.py --sizes 10000 100000

Real codes come from the shared identities and unknowns (computed once, cached under $FACEGATE_CACHE_DIR/bench).
Larger galleries add synthetic people sampled around real codes; recall is measured with held-out real photos of
enrolled people, and with unknown people for the open-set case.
"""

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "facedata")
)
CACHE_DIR = Path(os.environ.get("FACEGATE_CACHE_DIR", Path.home() / ".cache" / "facegate")) / "bench"


class FaceCoder(Protocol):
    """Turns an RGB image into the code of its largest face (None when it has no face)."""

    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray | None: ...


class DlibFaceCoder:
    """dlib-bin's detector, 5-point landmarks and ResNet: the reference codes until the torch port lands.

    The fast HOG detector runs first; the CNN detector only looks at the photos HOG finds no face in.
    """

    name = "dlib"

    def __init__(self) -> None:
        import dlib

        models = (
            Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]) / "models"
        )
        self._detect = dlib.get_frontal_face_detector()
        self._detect_harder = dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat"))
        self._landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        boxes = list(self._detect(image, 1)) or [found.rect for found in self._detect_harder(image, 0)]
        if not boxes:
            return None
        box = max(boxes, key=lambda b: b.area())
        return np.asarray(
            self._encoder.compute_face_descriptor(image, self._landmarks(image, box)), np.float32
        )


def face_codes(paths: Sequence[Path], coder: FaceCoder | None = None) -> np.ndarray:
    """Codes of `paths` as (n, 128) float32, a NaN row where no face was found.

    Codes are cached per coder and per file content, so a subset (tests) and the full set (bench) share the work.
    """
    keys = [hashlib.sha1(Path(path).read_bytes()).hexdigest() for path in paths]
    name = coder.name if coder is not None else DlibFaceCoder.name
    store = CACHE_DIR / f"codes-{name}.npz"
    known: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store) as cached:
            known = dict(zip(cached["keys"].tolist(), cached["codes"], strict=True))
    missing = [(key, path) for key, path in zip(keys, paths, strict=True) if key not in known]
    if missing:
        coder = coder or DlibFaceCoder()
        for key, path in missing:
            code = coder(np.asarray(Image.open(path).convert("RGB")))
            known[key] = code if code is not None else np.full(128, np.nan, np.float32)
        store.parent.mkdir(parents=True, exist_ok=True)
        partial = store.with_name(f"{store.stem}.{os.getpid()}.tmp.npz")
        np.savez(partial, keys=np.array(list(known)), codes=np.stack(list(known.values())).astype(np.float32))
        os.replace(partial, store)
    return np.stack([known[key] for key in keys])


def identity_photos(facedata: Path = FACEDATA) -> tuple[list[Path], np.ndarray]:
    """Every photo under identities/, sorted, with its person's index."""
    people = sorted(folder for folder in (facedata / "identities").iterdir() if folder.is_dir())
    photos = [(index, photo) for index, folder in enumerate(people) for photo in sorted(folder.glob("*.jpg"))]
    return [photo for _, photo in photos], np.array([index for index, _ in photos])


def unknown_photos(facedata: Path = FACEDATA) -> list[Path]:
    return sorted((facedata / "unknown").glob("*.jpg"))
