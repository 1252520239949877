"""Landmark-guided pseudo-labels, the way LaPa was built: dlib's 68 points drawn into part polygons.

Only what the landmarks locate is labelled: brows, eyes, nose, lips, inner mouth and the face skin inside the
jaw line closed over the brows. Farther than a ring from every part drawn, the rest is NOT_A_PART (some
background, skin or hair: no face part), which teaches the network that clutter, hair and clothes hold no
eyes or brows, without saying which of the three it is. The ring and a thin band on every region boundary
are IGNORE, to be learned from human labels. dlib's points 17-21 and 36-41 lie on the
image-left of a frontal face, so they are drawn as LEFT_BROW and LEFT_EYE.

dlib (from dlib-bin) is imported inside the functions: it is a training-time tool, never a runtime one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from recognition.images import UnreadableImage, read_rgb
from recognition.models.weights import dat_path
from recognition.training.datasets import (
    IGNORE,
    IMAGE_SUFFIXES,
    INNER_MOUTH,
    LEFT_BROW,
    LEFT_EYE,
    LOWER_LIP,
    NOSE,
    NOT_A_PART,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    UPPER_LIP,
)
from recognition.training.files import save_atomically

__all__ = ["LandmarkPseudoLabeler", "pseudo_label", "draw_parts", "make_pseudo_labels", "read_boxes"]

logger = logging.getLogger(__name__)

JAW, LEFT_BROW_POINTS, RIGHT_BROW_POINTS = range(0, 17), range(17, 22), range(22, 27)
NOSE_BRIDGE, NOSTRILS = range(27, 31), range(31, 36)
LEFT_EYE_POINTS, RIGHT_EYE_POINTS = range(36, 42), range(42, 48)
OUTER_LIPS, INNER_LIPS = range(48, 60), range(60, 68)

# fractions of the inter-ocular distance (between the eye centres), measured against FASSEG's human labels
BROW_THICKNESS = 0.11
NOSE_WING = 0.10  # the nostril wings reach past points 31 and 35
NOSE_BRIDGE_HALF_WIDTH = 0.10
BOUNDARY_BAND = 0.02  # each side of every region boundary: polygon corners cut through real outlines
# Human labels draw eyes (with lids), lips and brows wider than the landmark contours (FASSEG's eyes cover
# about three times the contour's area); the skin in this ring around them is left for human labels to judge.
UNCERTAIN_RING = {(LEFT_EYE,): 0.08, (RIGHT_EYE,): 0.08, (UPPER_LIP, INNER_MOUTH, LOWER_LIP): 0.08,
                  (LEFT_BROW,): 0.05, (RIGHT_BROW,): 0.05, (NOSE,): 0.04}  # fmt: skip
# Past this far from every drawn part no face part can be, whatever the region conventions: NOT_A_PART.
PART_FREE_BEYOND = 0.15
FACE_PARTS = (LEFT_BROW, RIGHT_BROW, LEFT_EYE, RIGHT_EYE, NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP)


def draw_parts(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 pseudo-label of one face from its 68 dlib landmarks (x, y) in image pixels."""
    points = np.asarray(points, np.float64)
    inter_ocular = np.linalg.norm(points[LEFT_EYE_POINTS].mean(0) - points[RIGHT_EYE_POINTS].mean(0))
    parts = np.full(shape, IGNORE, np.uint8)

    def fill(indices: Iterable[int] | np.ndarray, value: int) -> None:
        polygon = points[list(indices)] if not isinstance(indices, np.ndarray) else indices
        cv2.fillPoly(parts, [np.round(polygon).astype(np.int32)], value)

    fill([*JAW, *reversed(RIGHT_BROW_POINTS), *reversed(LEFT_BROW_POINTS)], SKIN)
    brow_thickness = max(2, round(BROW_THICKNESS * inter_ocular))
    for indices, eye, value in (
        (LEFT_BROW_POINTS, LEFT_EYE_POINTS, LEFT_BROW),
        (RIGHT_BROW_POINTS, RIGHT_EYE_POINTS, RIGHT_BROW),
    ):
        # iBUG's brow points trace the brow's upper edge: the band hangs from them towards the eye
        towards_eye = points[eye].mean(0) - points[indices].mean(0)
        towards_eye *= BROW_THICKNESS * inter_ocular / 2 / max(np.linalg.norm(towards_eye), 1e-6)
        polyline = np.round(points[indices] + towards_eye).astype(np.int32)
        cv2.polylines(parts, [polyline], False, value, brow_thickness, cv2.LINE_8)
    fill(_nose_polygon(points, inter_ocular), NOSE)
    fill(LEFT_EYE_POINTS, LEFT_EYE)
    fill(RIGHT_EYE_POINTS, RIGHT_EYE)
    fill([*range(48, 55), 64, 63, 62, 61, 60], UPPER_LIP)
    fill([*range(54, 60), 48, 60, 67, 66, 65, 64], LOWER_LIP)
    fill(INNER_LIPS, INNER_MOUTH)
    band = _disk(BOUNDARY_BAND * inter_ocular)
    boundary = cv2.dilate(parts, band) != cv2.erode(parts, band)
    skin = parts == SKIN
    for classes, width in UNCERTAIN_RING.items():
        part = np.isin(parts, classes).astype(np.uint8)
        skin &= cv2.dilate(part, _disk(width * inter_ocular)) == 0
    parts[boundary | ((parts == SKIN) & ~skin)] = IGNORE
    drawn = np.isin(parts, FACE_PARTS).astype(np.uint8)
    near_a_part = cv2.dilate(drawn, _disk(PART_FREE_BEYOND * inter_ocular))
    parts[(parts == IGNORE) & (near_a_part == 0) & ~boundary] = NOT_A_PART
    return parts


def _disk(radius: float) -> np.ndarray:
    size = 2 * max(1, round(radius)) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _nose_polygon(points: np.ndarray, inter_ocular: float) -> np.ndarray:
    """The convex hull of the bridge (widened) and the nostrils (wings pushed outwards)."""
    across = points[35] - points[31]
    across /= max(np.linalg.norm(across), 1e-6)
    bridge = points[NOSE_BRIDGE]
    wing = NOSE_WING * inter_ocular * across
    half = NOSE_BRIDGE_HALF_WIDTH * inter_ocular * across
    wings = [points[31] - wing, points[35] + wing]
    outline = np.vstack([bridge - half, bridge + half, points[NOSTRILS], *wings])
    return cv2.convexHull(np.round(outline).astype(np.float32))[:, 0]


class LandmarkPseudoLabeler:
    """dlib's 68-point shape predictor from face_recognition_models, drawn into pseudo-labels."""

    def __init__(self) -> None:
        import dlib  # training only: dlib-bin is no runtime dependency

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(dat_path("shape_predictor_68_face_landmarks.dat")))

    def landmarks(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The (68, 2) points in the detector box (x1, y1, x2, y2 pixel edges, dlib's rect + 1 at the end)."""
        x1, y1, x2, y2 = (round(value) for value in box)
        shape = self._predictor(np.ascontiguousarray(image_rgb), self._dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
        return np.array([(part.x, part.y) for part in shape.parts()], np.float64)

    def __call__(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        return draw_parts(self.landmarks(image_rgb, box), image_rgb.shape[:2])


def pseudo_label(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The (H, W) uint8 pseudo-label of the face in `box`; builds the predictor per call, so loops should
    hold one LandmarkPseudoLabeler instead."""
    return LandmarkPseudoLabeler()(image_rgb, box)


BOXES_FILE = "boxes.json"  # in the pseudo-label folder: label path (relative) -> the box it was drawn in


def read_boxes(out_dir: Path) -> dict[str, list[float]]:
    """The detector box of each pseudo-label under `out_dir`, keyed by the label's path relative to it."""
    path = Path(out_dir) / BOXES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def make_pseudo_labels(
    data: Path, folders: Iterable[str], out_dir: Path, min_face_size: int | None = None
) -> int:
    """Write `out_dir/PATH.png`, the pseudo-label of the largest face our detector finds, for every photo
    `data/PATH.<jpg|png|...>` under each of `folders` (relative to `data`), and that face's box in
    `out_dir/boxes.json` (so training crops the face without detecting it again); returns how many labels
    were written.

    Labels already there are kept, so a stopped run picks up where it was; each file is written under a
    temporary name and renamed, so a stop never leaves half a file. Photos without a face or unreadable are
    logged.
    """
    from tqdm import tqdm

    from recognition.models.detector import FaceDetector

    out_dir = Path(out_dir)
    boxes = read_boxes(out_dir)
    jobs = []
    for folder in folders:
        if not (Path(data) / folder).is_dir():
            raise FileNotFoundError(f"no folder {Path(data) / folder}")
        for photo in sorted((Path(data) / folder).rglob("*")):
            if photo.suffix.lower() in IMAGE_SUFFIXES and photo.is_file():
                target = out_dir / photo.relative_to(data).with_suffix(".png")
                if not target.exists() or target.relative_to(out_dir).as_posix() not in boxes:
                    jobs.append((photo, target))
    if not jobs:
        return 0
    detector, labeler = FaceDetector(), LandmarkPseudoLabeler()
    written = 0
    for photo, target in tqdm(jobs, desc="pseudo-labels", unit="photo"):
        try:
            image = read_rgb(photo)
        except UnreadableImage as error:
            logger.warning("skipping %s: %s", photo, error)
            continue
        faces = detector.detect(image, min_face_size=min_face_size)
        if not faces:
            logger.warning("skipping %s: no face found", photo)
            continue
        largest = max(faces, key=lambda face: face.width * face.height)
        encoded, png = cv2.imencode(".png", labeler(image, largest.box))
        if not encoded:
            raise OSError(f"cannot encode the label of {photo}")
        save_atomically(target, lambda file, label=png: file.write(label.tobytes()))
        boxes[target.relative_to(out_dir).as_posix()] = [float(value) for value in largest.box]
        written += 1
        if written % 100 == 0:
            save_atomically(out_dir / BOXES_FILE, lambda file: file.write(json.dumps(boxes).encode()))
    save_atomically(out_dir / BOXES_FILE, lambda file: file.write(json.dumps(boxes).encode()))
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m recognition.training.pseudo_labels", description=make_pseudo_labels.__doc__
    )
    parser.add_argument("--data", type=Path, required=True, help="face data root (shared/facedata)")
    parser.add_argument("--out", type=Path, required=True, help="pseudo-label folder")
    parser.add_argument("folders", nargs="+", help="photo folders, relative to --data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    written = make_pseudo_labels(args.data, args.folders, args.out)
    print(f"{written} pseudo-labels written under {args.out}")
    return written


if __name__ == "__main__":
    main()
