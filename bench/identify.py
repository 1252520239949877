"""Open-set 1:N identification on the shared real faces: FAR/TAR curve, the calibrated threshold, T-norm.

    nice -n 10 .venv/bin/python -m bench.identify              # from the repository root
    nice -n 10 .venv/bin/python -m bench.identify --codes-only # just fill the code cache (about 15 min, 1 core)

PROTOCOL DRAFT
"""

import argparse
import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recognition.models.weights import KINDS, cache_dir, dat_path
from recognition.types import Face

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "facedata")
)
REPO = Path(__file__).resolve().parents[1]
# Sources whose edits change codes: the cache is keyed by their text and by the weights files.
CODE_SOURCES = (
    "recognition/pipeline.py",
    "recognition/align.py",
    "recognition/models/detector.py",
    "recognition/models/landmarks.py",
    "recognition/models/facecode.py",
)
_SAVE_EVERY = 200


@dataclass(frozen=True)
class Photo:
    path: Path
    person: str
    source: str  # "identities", "unknown" or "pool"


def shared_photos(facedata: Path = FACEDATA) -> list[Photo]:
    """Every photo the bench uses: identities/ (person by person, by photo number), unknown/, faces_pool/."""
    people = sorted(folder for folder in (facedata / "identities").iterdir() if folder.is_dir())
    photos = [
        Photo(photo, folder.name, "identities")
        for folder in people
        for photo in sorted(folder.glob("*.jpg"), key=lambda path: int(path.stem))
    ]
    photos += [
        Photo(photo, photo.stem.rsplit("_", 1)[0], "unknown")
        for photo in sorted((facedata / "unknown").glob("*.jpg"))
    ]
    with open(facedata / "faces_pool" / "manifest.csv", newline="") as manifest:
        photos += [
            Photo(facedata / "faces_pool" / row["file"], row["person"], "pool")
            for row in sorted(csv.DictReader(manifest), key=lambda row: row["file"])
        ]
    return photos


def codes_version() -> str:
    """Names the code every photo gets: the weights files, their converters' versions, the pipeline's source."""
    digest = hashlib.sha256()
    for kind, spec in sorted(KINDS.items()):
        digest.update(f"{kind}:{spec.version}:".encode())
        digest.update(hashlib.sha256(dat_path(spec.dat_name).read_bytes()).digest())
    for source in CODE_SOURCES:
        path = REPO / source
        digest.update(source.encode() + (path.read_bytes() if path.is_file() else b"absent"))
    return digest.hexdigest()[:16]


def central_face(faces: Sequence[Face], height: int, width: int) -> Face | None:
    """The photo's subject: LFW photos are centred on their subject, and some show other people beside."""
    return min(
        faces,
        key=lambda face: np.hypot((face.box[0] + face.box[2] - width) / 2, (face.box[1] + face.box[3] - height) / 2),
        default=None,
    )


def face_codes(photos: Sequence[Photo], analyse: Callable[[np.ndarray], list[Face]] | None = None) -> np.ndarray:
    """(n, 128) float32 codes of each photo's central face, a NaN row where no face was found.

    Cached under $FACEGATE_CACHE_DIR/bench keyed by `codes_version()` and the photo's path under the face data,
    saved as it goes, so an interrupted run resumes where it stopped.
    """
    store = cache_dir() / "bench" / f"identify-codes-{codes_version()}.npz"
    known: dict[str, np.ndarray] = {}
    if store.is_file():
        with np.load(store) as cached:
            known = dict(zip(cached["paths"].tolist(), cached["codes"], strict=True))
    keys = [photo.path.resolve().relative_to(FACEDATA.resolve()).as_posix() for photo in photos]
    missing = [(key, photo) for key, photo in zip(keys, photos, strict=True) if key not in known]
    if missing:
        analyse = analyse or default_analyser()
        started = time.monotonic()
        for done, (key, photo) in enumerate(missing, 1):
            image = np.asarray(Image.open(photo.path).convert("RGB"))
            face = central_face(analyse(image), *image.shape[:2])
            known[key] = face.code if face is not None else np.full(128, np.nan, np.float32)
            if done % _SAVE_EVERY == 0 or done == len(missing):
                _save(store, known)
                rate = done / (time.monotonic() - started)
                print(f"codes: {done}/{len(missing)} new, {rate:.1f} photos/s", file=sys.stderr, flush=True)
    return np.stack([known[key] for key in keys]).astype(np.float32)


def _save(store: Path, known: dict[str, np.ndarray]) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f".{store.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, paths=np.array(list(known)), codes=np.stack(list(known.values())).astype(np.float32))
    os.replace(partial, store)


def default_analyser() -> Callable[[np.ndarray], list[Face]]:
    # TEMPORARY until recognition.pipeline lands
    from recognition.align import face_chip
    from recognition.models.detector import FaceDetector
    from recognition.models.facecode import FaceCoder
    from recognition.models.landmarks import LandmarkPredictor

    detector, landmarks, coder = FaceDetector(), LandmarkPredictor(), FaceCoder()

    def analyse(image: np.ndarray) -> list[Face]:
        faces = detector.detect(image)
        for face in faces:
            landmarks.get(image, face)
            face.chip = face_chip(image, face.keypoints)
            coder.get(image, face)
        return faces

    return analyse


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes-only", action="store_true", help="compute and cache the codes, then stop")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    photos = shared_photos()
    codes = face_codes(photos)
    print(f"{len(photos)} photos, {np.isnan(codes[:, 0]).sum()} without a face")
    if args.codes_only:
        return


if __name__ == "__main__":
    main()
