"""Keypoints and occlusion verdicts from a face's parsing: segments -> named points with confidence.

Each part (brows, eyes, nose, mouth, lips) is a segment of the label map, its specks dropped. Its points
come from the segment's pixel moments, which average over every pixel and so land between pixels: centres
are centroids; corners and ends are extreme points along the face's horizontal axis (the line through the
eye centres), the nose base, nose tip and lip edges along its vertical axis. An extreme point lies a fixed
number of the segment's standard deviations from its centroid along the axis (`KEYPOINTS`: 2 for a filled
ellipse's end; measured per point against dlib's 68 points on FASSEG's human masks), placed across the axis
where the segment's outermost pixels are. Points are computed in the parsing crop and mapped to image pixels
with its `crop_to_image`.

A part is visible when its segment covers a plausible share of the face: its area over the squared
inter-ocular distance (or a share of the box when the eyes are missing), in the range of FASSEG's human
labels (`PLAUSIBLE_AREA`). A point's confidence is 1 inside that range, falls to 0 outside it, and is scaled
by the share of the part's pixels in its main blobs. A face missing an eye, its nose or its mouth is
reported occluded (`occlusions`), and so is one whose detector box runs out of the image.

`ParsingKeypoints` is the engine's keypoint model: parse, derive, align on `ALIGNMENT_TEMPLATE` (where the
points sit in dlib's chip, fitted by `recognition.training.fit_keypoint_template`), or on the detector box
when too few parts are visible to align the face. "left" is image-left, as in the parser's classes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from recognition.models.parser import FaceParser
from recognition.types import Face, Point, Visibility

__all__ = [
    "KEYPOINTS",
    "PART_CLASSES",
    "PLAUSIBLE_AREA",
    "MaskKeypoints",
    "face_outside_image",
    "mask_keypoints",
]

# Class values of the parser's 11-class scheme (recognition.models.parser.CLASSES), by part.
PART_CLASSES: dict[str, tuple[int, ...]] = {
    "left_brow": (2,),
    "right_brow": (3,),
    "left_eye": (4,),
    "right_eye": (5,),
    "nose": (6,),
    "upper_lip": (7,),
    "lower_lip": (9,),
    "mouth": (7, 8, 9),
}
# Plausible part areas over the squared inter-ocular distance (eye centre to eye centre). FASSEG's 45
# frontal human masks span eyes 0.034-0.096, nose 0.20-0.37, mouth (closed to open) 0.09-0.22, brows up to
# 0.15; the lower bounds leave room for narrowed eyes and thin lips, the upper ones for open mouths and a
# parser's blurrier edges. Below half the lower bound a part counts as missing.
PLAUSIBLE_AREA: dict[str, tuple[float, float]] = {
    "left_brow": (0.015, 0.4),
    "right_brow": (0.015, 0.4),
    "left_eye": (0.015, 0.25),
    "right_eye": (0.015, 0.25),
    "nose": (0.08, 0.8),
    "mouth": (0.05, 0.8),
    "upper_lip": (0.01, 0.6),
    "lower_lip": (0.01, 0.6),
}
# A part whose centre lies further than this many inter-ocular distances (the box's estimate) from where an
# average face in the detector box has it is not taken for that part; confidence falls from half of it on.
# The box's estimate itself wanders by about 0.2 (the spread of BOX_TEMPLATE's fit), and a head rolled by
# 30 degrees moves its mouth about half an inter-ocular distance.
MAX_OFFSET = 1.0
_PLACED_BY = {
    "left_eye": "left_eye_center",
    "right_eye": "right_eye_center",
    "nose": "nose_tip",
    "mouth": "mouth_center",
}
# Below this confidence a point is reported but not used to align the face.
MIN_CONFIDENCE = 0.5
# A face box with more than this share of its area outside the image is partly out of frame. The detector's
# box reaches past the cheeks and to the chin: a close-up whose eyes, nose and mouth all show can still lose
# an eighth of it (FASSEG's frontal photos do).
MAX_OUTSIDE = 0.2
# Without eyes, the inter-ocular distance is taken as this share of the detector box's width (the median
# on FASSEG's frontal human masks; 0.36 to 0.55 over its 45 faces).
EYES_PER_BOX_WIDTH = 0.44

# Each keypoint: its part, the axis it is read along ("along" the eye line, "down" across it, or None for
# the part's centroid) and how many of the part's standard deviations along that axis it lies from the
# centroid. The multiples were measured on FASSEG's frontal human masks against dlib's 68 points
# (`recognition.training.fit_keypoint_template --sigmas`): medians over 45 faces.
KEYPOINTS: dict[str, tuple[str, str | None, float]] = {
    "left_eye_center": ("left_eye", None, 0.0),
    "left_eye_outer": ("left_eye", "along", -1.7),
    "left_eye_inner": ("left_eye", "along", 2.1),
    "right_eye_center": ("right_eye", None, 0.0),
    "right_eye_inner": ("right_eye", "along", -2.1),
    "right_eye_outer": ("right_eye", "along", 1.8),
    "left_brow_outer": ("left_brow", "along", -2.3),
    "left_brow_inner": ("left_brow", "along", 2.3),
    "right_brow_inner": ("right_brow", "along", -2.2),
    "right_brow_outer": ("right_brow", "along", 2.2),
    "nose_tip": ("nose", "down", 0.55),
    "nose_base": ("nose", "down", 1.8),
    "left_mouth_corner": ("mouth", "along", -2.25),
    "right_mouth_corner": ("mouth", "along", 2.25),
    "mouth_center": ("mouth", None, 0.0),
    "upper_lip_center": ("upper_lip", None, 0.0),
    "upper_lip_top": ("upper_lip", "down", -2.0),
    "lower_lip_center": ("lower_lip", None, 0.0),
    "lower_lip_bottom": ("lower_lip", "down", 2.0),
}


@dataclass(frozen=True)
class Segment:
    pixels: np.ndarray  # (n, 2) x, y of the part's pixels in its main blobs
    purity: float  # share of the part's pixels in those blobs

    @property
    def area(self) -> float:
        return float(len(self.pixels))

    @property
    def centre(self) -> np.ndarray:
        return self.pixels.mean(axis=0)

    def point(self, axis: np.ndarray, sigmas: float) -> np.ndarray:
        """The centroid moved `sigmas` standard deviations of the pixels along unit `axis`; a point near the
        segment's end (|sigmas| >= 1.5) is placed across the axis at the mean of the outermost fifth of the
        pixels, where the end actually is, rather than on the centroid's line."""
        offsets = self.pixels - self.centre
        along = offsets @ axis
        point = self.centre + sigmas * along.std() * axis
        if abs(sigmas) < 1.5:
            return point
        across_axis = np.array([-axis[1], axis[0]])
        signed = math.copysign(1.0, sigmas) * along
        outermost = signed >= np.quantile(signed, 0.8)
        return point + (offsets[outermost] @ across_axis).mean() * across_axis


def segment_of(labels: np.ndarray, classes: tuple[int, ...]) -> Segment | None:
    """The part's largest blob (other blobs of the class are parsing noise, a nose label on a collar say);
    None when the class is absent."""
    mask = np.isin(labels, classes).astype(np.uint8)
    count, blobs, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    rows, cols = np.nonzero(blobs == 1 + np.argmax(areas))
    return Segment(np.stack([cols, rows], axis=1).astype(np.float64), float(len(rows) / areas.sum()))


@dataclass(frozen=True)
class MaskKeypoints:
    """Named points (image pixels) with a 0..1 confidence each, and the part areas they were judged on."""

    points: dict[str, Point]
    confidence: dict[str, float]
    part_areas: dict[str, float]  # over the squared inter-ocular distance; 0 for a missing part
    visible: dict[str, bool]

    def confident(self, minimum: float = MIN_CONFIDENCE) -> dict[str, Point]:
        return {name: xy for name, xy in self.points.items() if self.confidence[name] >= minimum}


def _area_confidence(ratio: float, low: float, high: float) -> float:
    """1 inside [low, high], falling linearly to 0 at half of low and at twice high."""
    if ratio <= low / 2 or ratio >= 2 * high:
        return 0.0
    if ratio < low:
        return (ratio - low / 2) / (low / 2)
    if ratio > high:
        return (2 * high - ratio) / high
    return 1.0


def mask_keypoints(
    labels: np.ndarray, to_image: np.ndarray, box: tuple[float, float, float, float]
) -> MaskKeypoints:
    """The named keypoints of one face's label map (classes as `PART_CLASSES`), mapped to image pixels by
    the 2x3 affine `to_image`. The detector `box` (image pixels) gives the face's scale until both eyes are
    found, and where its eyes, nose and mouth can be: a part segmented further than `MAX_OFFSET`
    inter-ocular distances from where an average face in the box has it is not that part."""
    box_width = box[2] - box[0]
    segments = {part: segment_of(labels, classes) for part, classes in PART_CLASSES.items()}
    pixel_size = math.sqrt(
        abs(np.linalg.det(np.asarray(to_image, np.float64)[:, :2]))
    )  # image px per label px
    inter_ocular = EYES_PER_BOX_WIDTH * box_width / pixel_size
    axis = np.array([1.0, 0.0])  # faces reach the parser upright to within the detector's tolerance
    eyes = segments["left_eye"], segments["right_eye"]
    lowest_eye = PLAUSIBLE_AREA["left_eye"][0] / 2 * inter_ocular**2
    if all(eye is not None and eye.area >= lowest_eye for eye in eyes):
        between = eyes[1].centre - eyes[0].centre
        if np.linalg.norm(between) > 0:
            inter_ocular = float(np.linalg.norm(between))
            axis = between / inter_ocular
    down = np.array([-axis[1], axis[0]])

    local: dict[str, np.ndarray] = {}
    confidence: dict[str, float] = {}
    part_areas: dict[str, float] = {}
    visible: dict[str, bool] = {}
    for part, segment in segments.items():
        ratio = segment.area / inter_ocular**2 if segment is not None and inter_ocular > 0 else 0.0
        part_areas[part] = ratio
        visible[part] = bool(segment is not None and ratio >= PLAUSIBLE_AREA[part][0] / 2)
        if segment is None:
            continue
        score = round(_area_confidence(ratio, *PLAUSIBLE_AREA[part]) * segment.purity, 3)
        for name, (of_part, along, sigmas) in KEYPOINTS.items():
            if of_part == part:
                local[name] = segment.point(down if along == "down" else axis, sigmas)
                confidence[name] = score

    points: dict[str, Point] = {}
    if local:
        placed = cv2.transform(np.array([list(local.values())]), np.asarray(to_image, np.float64))[0]
        points = {name: (float(x), float(y)) for name, (x, y) in zip(local, placed, strict=True)}
    expected = points_from_box(box)
    for part, name in _PLACED_BY.items():
        if name in points:
            offset = np.linalg.norm(np.subtract(points[name], expected[name])) / (
                EYES_PER_BOX_WIDTH * box_width
            )
            factor = float(np.clip((MAX_OFFSET - offset) / (MAX_OFFSET / 2), 0.0, 1.0))
            visible[part] = visible[part] and factor > 0
            for point, (of_part, _, _) in KEYPOINTS.items():
                if of_part == part and point in confidence:
                    confidence[point] = round(confidence[point] * factor, 3)
    return MaskKeypoints(points, confidence, part_areas, visible)


def face_outside_image(box: tuple[float, float, float, float], image_shape: tuple[int, ...]) -> float:
    """Share of the face box's area that lies outside the image."""
    x1, y1, x2, y2 = box
    height, width = image_shape[:2]
    area = max(x2 - x1, 0) * max(y2 - y1, 0)
    if area == 0:
        return 1.0
    inside = max(min(x2, width) - max(x1, 0), 0) * max(min(y2, height) - max(y1, 0), 0)
    return 1.0 - inside / area


def occlusions(found: MaskKeypoints, outside: float) -> tuple[str, ...]:
    """Why a face counts as occluded, one sentence each, from which parts are visible and the share of its
    box outside the image."""
    visible = found.visible
    reasons = []
    if not visible["left_eye"] and not visible["right_eye"]:
        reasons.append("the eyes are covered (sunglasses?)")
    else:
        reasons += [
            f"the {side} eye is not visible" for side in ("left", "right") if not visible[f"{side}_eye"]
        ]
    if not visible["nose"] and not visible["mouth"]:
        reasons.append("the nose and mouth are covered (a face mask?)")
    else:
        reasons += [f"the {part} is covered" for part in ("nose", "mouth") if not visible[part]]
    if outside > MAX_OUTSIDE:
        reasons.append(f"the face is partly out of the frame ({outside:.0%} of it outside the image)")
    return tuple(reasons)


# Where the keypoints sit in dlib's chip, in the unit face square of recognition.align.TEMPLATE: medians
# over real photos aligned by dlib's 5 points, from `python -m recognition.training.fit_keypoint_template`
# (its docstring has the command and the data). The brows are left out: they wander under hair and
# parsing noise (a median spread three times the eyes'), so they would only add noise to the fit.
ALIGNMENT_TEMPLATE: dict[str, Point] = {
    "left_eye_center": (0.2193, 0.2094),
    "left_eye_outer": (0.1316, 0.2103),
    "left_eye_inner": (0.3274, 0.2102),
    "right_eye_center": (0.7467, 0.2114),
    "right_eye_inner": (0.6386, 0.2148),
    "right_eye_outer": (0.8399, 0.2101),
    "nose_tip": (0.4873, 0.4972),
    "nose_base": (0.4887, 0.6443),
    "left_mouth_corner": (0.2329, 0.8129),
    "right_mouth_corner": (0.7383, 0.8104),
    "mouth_center": (0.4857, 0.8191),
}
# The detector box's corners in the same frame (same fit): the alignment of a face whose parts cannot
# align it, an eye and the nose hidden say. It is looser (its spread is five times the eyes') but keeps the
# face's code usable while the face is reported occluded.
BOX_TEMPLATE: dict[str, Point] = {"box_top_left": (-0.1778, -0.2600), "box_bottom_right": (1.0579, 1.0361)}
# Mask points align a face when at least this many confident ones, from at least two parts, are known.
MIN_ALIGNMENT_POINTS = 3


def _parts_of(names: Iterable[str]) -> set[str]:
    return {KEYPOINTS[name][0] for name in names}


def points_from_box(box: tuple[float, float, float, float]) -> dict[str, Point]:
    """Where an average face in the detector box has the alignment points: BOX_TEMPLATE's centre onto the
    box's, scaled by the mean of the width and height ratios (boxes are upright, so no rotation)."""
    x1, y1, x2, y2 = box
    (left, top), (right, bottom) = BOX_TEMPLATE.values()
    scale = ((x2 - x1) / (right - left) + (y2 - y1) / (bottom - top)) / 2
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    placed = (np.array(list(ALIGNMENT_TEMPLATE.values())) - centre) * scale + ((x1 + x2) / 2, (y1 + y2) / 2)
    return {name: (float(x), float(y)) for name, (x, y) in zip(ALIGNMENT_TEMPLATE, placed, strict=True)}


class ParsingKeypoints:
    """The production keypoint model: parse the face, derive keypoints and verdicts from its segments.

    `get` fills `face.parsing`, `face.visibility` (part visibility, keypoint confidences, occlusions) and
    `face.keypoints`: the confident mask points, or, when too few of them are confident to align the face,
    the points an average face would have in its detector box (then with confidence 0). The engine aligns
    with the points named in `template`.
    """

    template = ALIGNMENT_TEMPLATE

    def __init__(self, parser: FaceParser | None = None):
        self.parser = parser if parser is not None else FaceParser()

    def prepare(self, device: str = "cpu") -> None:
        self.parser.prepare(device)

    def get(self, img: np.ndarray, face: Face) -> dict[str, Point]:
        parsing = self.parser.get(img, face)
        found = mask_keypoints(parsing.labels, parsing.crop_to_image, face.box)
        confident = found.confident()
        aligning = [name for name in confident if name in self.template]
        confidence = dict(found.confidence)
        if len(aligning) < MIN_ALIGNMENT_POINTS or len(_parts_of(aligning)) < 2:
            confident = points_from_box(face.box)
            confidence |= dict.fromkeys(confident, 0.0)
        face.keypoints = confident
        face.visibility = Visibility(
            found.visible, confidence, occlusions(found, face_outside_image(face.box, img.shape))
        )
        return face.keypoints
