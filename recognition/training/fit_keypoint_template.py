"""Where FaceGate's mask-derived keypoints sit in dlib's face chip: the template that aligns faces with them.

The face-code network was trained on chips cut by dlib's 5-point alignment, so parsing-aligned chips must
land where those do. On real photos this script aligns each face with dlib's 5 points (the torch port in
`recognition.models.landmarks`, which equals dlib), maps the keypoints `recognition.keypoints` derives from
the face's parsing into that chip's unit face square (the frame of `recognition.align.TEMPLATE`), and takes
the per-point median. It prints the spread of each point too: points that wander in the chip frame (brows,
under hair and FASSEG's heuristic labels) would only add noise to the fit and are left out of alignment.
The detector box's corners are fitted the same way, for faces whose parts cannot align them.

    nice -n 10 .venv/bin/python -m recognition.training.fit_keypoint_template --photos 800
    nice -n 10 .venv/bin/python -m recognition.training.fit_keypoint_template --masks fasseg

`--masks parser` (default) parses faces_pool/ photos with the committed parser: the template of what the
pipeline sees. `--masks fasseg` uses FASSEG's human labels on its frontal photos instead (45 faces).
`--sigmas` measures, on FASSEG's frontal human masks, how many standard deviations of its segment each
keypoint lies from the segment's centroid, against dlib's 68 points (`recognition.keypoints.KEYPOINTS`);
dlib-bin is needed for that one, at training time only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from recognition.align import DLIB_5_POINT_NAMES, chip_transform
from recognition.images import read_rgb
from recognition.keypoints import KEYPOINTS, PART_CLASSES, mask_keypoints, segment_of
from recognition.models.detector import FaceDetector
from recognition.models.landmarks import LandmarkPredictor
from recognition.models.weights import COMMITTED
from recognition.types import Face

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "facedata")
)
CHIP, PADDING = 150, 0.25
FASSEG_MOUTH, INNER_MOUTH = 11, 8
# dlib's 68-point indices of the keypoints a 68-point shape names (0-based, iBUG 300-W order).
DLIB_68 = {
    "left_eye_outer": 36, "left_eye_inner": 39, "right_eye_inner": 42, "right_eye_outer": 45,
    "left_brow_outer": 17, "left_brow_inner": 21, "right_brow_inner": 22, "right_brow_outer": 26,
    "nose_tip": 30, "nose_base": 33, "left_mouth_corner": 48, "right_mouth_corner": 54,
    "upper_lip_top": 51, "lower_lip_bottom": 57,
}  # fmt: skip


def _spread(path: Path) -> int:
    return int(hashlib.sha1(path.name.encode()).hexdigest(), 16)


def pool_photos(count: int) -> list[Path]:
    """`count` faces_pool/ photos, picked by a hash of their name (not file order)."""
    with open(FACEDATA / "faces_pool" / "manifest.csv", newline="") as manifest:
        paths = [FACEDATA / "faces_pool" / row["file"] for row in csv.DictReader(manifest)]
    return sorted(paths, key=_spread)[:count]


def fasseg_frontal() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """FASSEG's frontal photos with their human labels, its mouth superclass taken as inner mouth."""
    for split in ("train", "test"):
        for mask in sorted((FACEDATA / "parsing" / split / "masks").glob("*frontal*.png")):
            labels = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
            labels[labels == FASSEG_MOUTH] = INNER_MOUTH
            yield read_rgb(FACEDATA / "parsing" / split / "images" / f"{mask.stem}.jpg"), labels


def _largest(detector: FaceDetector, image: np.ndarray) -> Face | None:
    return max(detector.detect(image), key=lambda face: face.width, default=None)


def to_unit_square(
    points: dict[str, tuple[float, float]], image_to_chip: np.ndarray
) -> dict[str, np.ndarray]:
    """Image pixels -> the unit face square of dlib's chip (where TEMPLATE's coordinates live)."""
    names = list(points)
    chip = cv2.transform(np.array([[points[name] for name in names]], np.float64), image_to_chip)[0]
    return dict(zip(names, chip / CHIP * (1 + 2 * PADDING) - PADDING, strict=True))


def collect(masks: str, photos: int, weights: Path) -> dict[str, list[np.ndarray]]:
    detector, landmarks = FaceDetector(), LandmarkPredictor()
    if masks == "parser":
        from recognition.models.parser import FaceParser

        parser = FaceParser(weights)

        def pairs() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
            for path in pool_photos(photos):
                yield read_rgb(path), None
    else:
        pairs = fasseg_frontal
    found: dict[str, list[np.ndarray]] = {}
    for image, labels in pairs():
        face = _largest(detector, image)
        if face is None:
            continue
        five = landmarks.get(image, face)
        image_to_chip = chip_transform({name: five[name] for name in DLIB_5_POINT_NAMES}, CHIP, PADDING)
        if labels is None:
            parsing = parser.get(image, face)
            keypoints = mask_keypoints(parsing.labels, parsing.crop_to_image, face.box)
        else:
            keypoints = mask_keypoints(labels, np.eye(2, 3), face.box)
        x1, y1, x2, y2 = face.box
        points = keypoints.confident() | {"box_top_left": (x1, y1), "box_bottom_right": (x2, y2)}
        for name, xy in to_unit_square(points, image_to_chip).items():
            found.setdefault(name, []).append(xy)
    return found


def fit_template(masks: str, photos: int, weights: Path) -> None:
    found = collect(masks, photos, weights)
    print(f"{'point':20s}{'faces':>7}{'median x':>10}{'median y':>10}{'spread':>9}  (unit face square)")
    for name, points in found.items():
        points = np.array(points)
        median = np.median(points, axis=0)
        spread = np.median(np.linalg.norm(points - median, axis=1))
        print(f"{name:20s}{len(points):7d}{median[0]:10.4f}{median[1]:10.4f}{spread:9.4f}")
    print("\ntemplate (median):")
    for name, points in found.items():
        median = np.median(np.array(points), axis=0)
        print(f'    "{name}": ({median[0]:.4f}, {median[1]:.4f}),')


def fit_sigmas() -> None:
    """Per keypoint: (dlib-68 point - segment centroid) along the keypoint's axis over the segment's std."""
    import dlib  # training only

    predictor = dlib.shape_predictor(str(_dat("shape_predictor_68_face_landmarks.dat")))
    detector = FaceDetector()
    ratios: dict[str, list[float]] = {}
    for image, labels in fasseg_frontal():
        face = _largest(detector, image)
        if face is None:
            continue
        x1, y1, x2, y2 = (round(value) for value in face.box)
        shape = predictor(np.ascontiguousarray(image), dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
        dlib68 = np.array([(part.x, part.y) for part in shape.parts()], np.float64)
        axis = dlib68[42:48].mean(axis=0) - dlib68[36:42].mean(axis=0)
        axis /= np.linalg.norm(axis)
        down = np.array([-axis[1], axis[0]])
        for name, index in DLIB_68.items():
            part, along, _ = KEYPOINTS[name]
            segment = segment_of(labels, PART_CLASSES[part])
            if segment is None:
                continue
            direction = down if along == "down" else axis
            offsets = (segment.pixels - segment.centre) @ direction
            ratios.setdefault(name, []).append(
                float((dlib68[index] - segment.centre) @ direction / offsets.std())
            )
    for name, values in ratios.items():
        print(f"{name:20s} median {np.median(values):+.2f}  std {np.std(values):.2f}  faces {len(values)}")


def _dat(name: str) -> Path:
    from recognition.models.weights import dat_path

    return dat_path(name)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    arguments.add_argument("--masks", choices=("parser", "fasseg"), default="parser")
    arguments.add_argument(
        "--photos", type=int, default=800, help="faces_pool/ photos parsed (--masks parser)"
    )
    arguments.add_argument("--weights", type=Path, default=COMMITTED["parser"], help="parser weights")
    arguments.add_argument("--sigmas", action="store_true", help="fit the keypoints' multiples instead")
    options = arguments.parse_args()
    if options.sigmas:
        fit_sigmas()
    else:
        fit_template(options.masks, options.photos, options.weights)


if __name__ == "__main__":
    main()
