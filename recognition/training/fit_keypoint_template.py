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
`--helen` fits the keypoints themselves (`recognition.keypoints.KEYPOINTS`: each point's offsets from its
reference on its segment, lean and stretch) on Helen's training landmarks (`landmarks/train`, 246 photos;
its test split is never used here) against the committed parser's own masks, whose region edges differ
from human labels', and prints the train error per point and the table:

    nice -n 10 .venv/bin/python -m recognition.training.fit_keypoint_template --helen ../shared/facedata

A point's offset along the eye axis, lean and stretch are fitted together by least absolute deviations (a
median's line, so that a misparsed photo pulls them no more than it would a median); its offset across the
axis is a median.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.parser_eval import HELEN_POINTS, NOT_IN_MEAN, helen_face, helen_shapes
from recognition.align import DLIB_5_POINT_NAMES, chip_transform
from recognition.images import read_rgb
from recognition.keypoints import (
    KEYPOINTS,
    FaceFrame,
    Keypoint,
    face_frame,
    mask_keypoints,
    segments_of,
)
from recognition.models.detector import FaceDetector
from recognition.models.landmarks import LandmarkPredictor
from recognition.models.parser import FaceParser
from recognition.models.weights import COMMITTED
from recognition.types import Face, Parsing

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "facedata")
)
CHIP, PADDING = 150, 0.25
FASSEG_MOUTH, INNER_MOUTH = 11, 8


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


def helen_faces(root: Path, weights: Path) -> Iterator[tuple[Parsing, np.ndarray]]:
    """The parsing of each photo of a Helen split and its 29 human points, the face being the detected box
    that holds the human eye centres (as `bench.parser_eval` picks it)."""
    detector, parser = FaceDetector(), FaceParser(weights)
    for path, human in helen_shapes(root):
        image = read_rgb(path)
        face = helen_face(detector, image, human)
        if face is not None:
            yield parser.get(image, face), human


def least_absolute_deviations(features: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Intercept and coefficients of the linear fit of `values` on the columns of `features` that
    minimises the absolute deviations (a median's line: a few misparsed faces do not pull it), by
    iteratively reweighted least squares."""
    design = np.column_stack([np.ones(len(values)), features])
    weights = np.ones(len(values))
    for _ in range(100):
        root = np.sqrt(weights)
        coefficients = np.linalg.lstsq(design * root[:, None], values * root, rcond=None)[0]
        weights = 1 / np.maximum(np.abs(values - design @ coefficients), 1e-6)
    return coefficients


@dataclass(frozen=True)
class Miss:
    """Where a human point lies from its keypoint's reference on one face: the vector in label pixels,
    the face's frame, the segment's spread along the eye axis (`Segment.spread`) and the scale from label
    pixels to human inter-ocular distances."""

    vector: np.ndarray
    frame: FaceFrame
    spread: float
    scale: float

    def along_down(self) -> tuple[float, float]:
        """The miss along the eye axis and down across it, in the frame's inter-ocular distances."""
        return tuple(np.array([self.frame.axis, self.frame.down]) @ self.vector / self.frame.inter_ocular)

    def error(self, keypoint: Keypoint) -> float:
        """The human point's distance from `keypoint`'s placement, in human inter-ocular distances."""
        along = keypoint.along + keypoint.lean * self.frame.turn + keypoint.stretch * self.spread
        offset = self.frame.inter_ocular * (along * self.frame.axis + keypoint.down * self.frame.down)
        return float(np.linalg.norm(self.vector - offset) * self.scale)


def helen_misses(faces: Iterable[tuple[Parsing, np.ndarray]]) -> dict[str, list[Miss]]:
    """Per Helen-annotated keypoint, its human point's miss from the keypoint's reference on each face.
    Faces without both eyes and the nose found are left out: they have no frame to measure in."""
    misses: dict[str, list[Miss]] = {}
    for parsing, human in faces:
        segments = segments_of(parsing.labels)
        frame = face_frame(segments, inter_ocular_guess=0.0)
        if segments["nose"] is None or frame.inter_ocular == 0:
            continue
        in_crop = cv2.transform(human[None], cv2.invertAffineTransform(parsing.crop_to_image))[0]
        pixel_size = np.sqrt(abs(np.linalg.det(parsing.crop_to_image[:, :2])))
        eyes = human[[HELEN_POINTS["left_eye_center"], HELEN_POINTS["right_eye_center"]]]
        scale = pixel_size / np.linalg.norm(eyes[0] - eyes[1])
        for name, index in HELEN_POINTS.items():
            keypoint = KEYPOINTS[name]
            segment = segments[keypoint.part]
            if segment is not None:
                vector = in_crop[index] - segment.reference(keypoint, frame)
                misses.setdefault(name, []).append(Miss(vector, frame, segment.spread(frame), scale))
    return misses


def fit_keypoint(keypoint: Keypoint, misses: list[Miss]) -> Keypoint:
    """`keypoint` with its offsets, lean and stretch fitted to the misses."""
    along, down = np.array([miss.along_down() for miss in misses]).T
    turns_and_spreads = np.array([(miss.frame.turn, miss.spread) for miss in misses])
    along_offset, lean, stretch = least_absolute_deviations(turns_and_spreads, along)
    return Keypoint(
        keypoint.part,
        keypoint.reference,
        float(along_offset),
        float(np.median(down)),
        float(lean),
        float(stretch),
    )


def fit_helen(facedata: Path, weights: Path) -> None:
    misses = helen_misses(helen_faces(facedata / "landmarks" / "train", weights))
    fitted = {}
    for name, found in misses.items():
        keypoint = fit_keypoint(KEYPOINTS[name], found)
        fitted[name] = keypoint, np.array([miss.error(keypoint) for miss in found])
    print("Helen train: error over the inter-ocular distance (human eye centres), fitted offsets")
    print(f"{'keypoint':20s}{'faces':>6}{'mean':>8}{'median':>8}  reference  along    down    lean stretch")
    for name, (keypoint, errors) in fitted.items():
        note = "  (not in the NME)" if name in NOT_IN_MEAN else ""
        print(
            f"{name:20s}{len(errors):6d}{errors.mean():8.2%}{np.median(errors):8.2%}  {keypoint.reference:9s}"
            f"{keypoint.along:+7.3f} {keypoint.down:+7.3f} {keypoint.lean:+7.3f} {keypoint.stretch:+7.3f}"
            f"{note}"
        )
    scored = [errors for name, (_, errors) in fitted.items() if name not in NOT_IN_MEAN]
    print(f"mean over the points in the NME: {np.mean([errors.mean() for errors in scored]):.2%}")
    print("\nKEYPOINTS entries:")
    for name, (keypoint, _) in fitted.items():
        print(
            f'    "{name}": Keypoint("{keypoint.part}", "{keypoint.reference}", {keypoint.along:.3f}, '
            f"{keypoint.down:.3f}, lean={keypoint.lean:.3f}, stretch={keypoint.stretch:.3f}),"
        )


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    arguments.add_argument("--masks", choices=("parser", "fasseg"), default="parser")
    arguments.add_argument(
        "--photos", type=int, default=800, help="faces_pool/ photos parsed (--masks parser)"
    )
    arguments.add_argument("--weights", type=Path, default=COMMITTED["parser"], help="parser weights")
    arguments.add_argument(
        "--helen", type=Path, metavar="FACEDATA", help="fit the keypoints on Helen's training landmarks"
    )
    options = arguments.parse_args()
    if options.helen:
        fit_helen(options.helen, options.weights)
    else:
        fit_template(options.masks, options.photos, options.weights)


if __name__ == "__main__":
    main()
