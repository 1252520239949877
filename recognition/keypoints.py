"""Keypoints and occlusion verdicts from a face's parsing: segments -> named points with confidence.

Each part (brows, eyes, nose, mouth, lips) is a segment of the label map, its specks dropped. Each point
is placed from a reference on its part's segment: the segment's centroid, or its end towards one side of
the face (the mean of its outermost pixels that way, which lands between pixels), then moved along the
face's horizontal axis (the line through the eye centres) and across it by offsets fitted on Helen's
training landmarks against the committed parser's masks (`KEYPOINTS` says how). Points are computed in the
parsing crop and mapped to image pixels with its `crop_to_image`.

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
from functools import cached_property

import cv2
import numpy as np

from recognition.models.parser import FaceParser
from recognition.types import Face, Point, Visibility

__all__ = [
    "KEYPOINTS",
    "FaceFrame",
    "Keypoint",
    "PART_CLASSES",
    "PLAUSIBLE_AREA",
    "MaskKeypoints",
    "face_outside_image",
    "face_frame",
    "mask_keypoints",
    "segments_of",
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

# Mask points are placed from a reference point of their part's segment: its centroid, or its end towards
# the face's "left", "right", "up" or "down" (the mean of its outermost END_SHARE of pixels that way; "up"
# and "down" on the segment's midline, `MIDLINE_HALF_WIDTH`). From there a point sits a fixed offset along
# the eye axis and down across it, in inter-ocular distances, moved along the axis by a share ("lean") of
# the face's turn (`FaceFrame.turn`: the nose tip juts out of the face, so a turned head carries it
# sideways further than the nose's centroid) and by a multiple ("stretch") of the segment's standard
# deviation along the axis (how far the human mouth corners lie beyond the parser's mouth ends depends on
# the mouth's width).
# References were chosen, and offsets, leans and stretches fitted (least absolute deviations, medians
# across the axis), on Helen's training landmarks against the committed parser's own masks:
# `recognition.training.fit_keypoint_template --helen`, which prints this table.
END_SHARE = 0.05
MIDLINE_HALF_WIDTH = 0.1


@dataclass(frozen=True)
class Keypoint:
    """Where a keypoint sits on its part's segment (see `KEYPOINTS`)."""

    part: str
    reference: str  # "centre", or the segment's end: "left", "right", "up", "down"
    along: float = 0.0  # inter-ocular distances along the eye axis (towards the image-right eye)
    down: float = 0.0  # inter-ocular distances across it, down the face
    lean: float = 0.0  # inter-ocular distances along the eye axis per unit of the face's turn
    stretch: float = 0.0  # the segment's standard deviations along the eye axis


KEYPOINTS: dict[str, Keypoint] = {
    "left_eye_center": Keypoint("left_eye", "centre", 0.031, -0.025, lean=-0.141, stretch=-0.321),
    "left_eye_outer": Keypoint("left_eye", "left", -0.157, -0.008, lean=-0.169, stretch=1.159),
    "left_eye_inner": Keypoint("left_eye", "centre", 0.222, 0.010, lean=0.044, stretch=-0.163),
    "right_eye_center": Keypoint("right_eye", "centre", 0.018, -0.025, lean=-0.125, stretch=-0.293),
    "right_eye_inner": Keypoint("right_eye", "centre", -0.159, 0.008, lean=0.037, stretch=-0.597),
    "right_eye_outer": Keypoint("right_eye", "right", 0.186, -0.003, lean=-0.121, stretch=-1.577),
    "left_brow_outer": Keypoint("left_brow", "left", -0.180, -0.026, lean=-0.419, stretch=1.008),
    "left_brow_inner": Keypoint("left_brow", "right", 0.202, 0.001, lean=0.282, stretch=-1.150),
    "right_brow_inner": Keypoint("right_brow", "left", -0.197, 0.004, lean=0.263, stretch=1.061),
    "right_brow_outer": Keypoint("right_brow", "right", 0.311, -0.029, lean=-0.578, stretch=-1.665),
    "nose_tip": Keypoint("nose", "down", -0.018, -0.196, lean=0.760, stretch=0.028),
    "nose_base": Keypoint("nose", "down", -0.038, -0.010, lean=0.420, stretch=0.173),
    "left_mouth_corner": Keypoint("mouth", "left", -0.212, -0.056, lean=-0.197, stretch=0.730),
    "right_mouth_corner": Keypoint("mouth", "right", 0.163, -0.055, lean=-0.075, stretch=-0.525),
    "mouth_center": Keypoint("mouth", "centre"),
    "upper_lip_center": Keypoint("upper_lip", "centre"),
    "upper_lip_top": Keypoint("upper_lip", "up", 0.004, -0.005, lean=0.436, stretch=-0.061),
    "lower_lip_center": Keypoint("lower_lip", "centre"),
    "lower_lip_bottom": Keypoint("lower_lip", "down", 0.007, -0.043, lean=0.426, stretch=-0.052),
}


@dataclass(frozen=True)
class FaceFrame:
    """A face's axes in the label map: the unit eye axis (image-left eye to image-right eye) and the
    inter-ocular distance in label pixels (until both eyes are found, the image's horizontal and the
    detector box's estimate), and its turn: how far the nose's centroid lies from the point between the eye
    centres along the axis, in inter-ocular distances (0 without both eyes and the nose)."""

    axis: np.ndarray
    inter_ocular: float
    turn: float = 0.0

    @cached_property
    def down(self) -> np.ndarray:
        return np.array([-self.axis[1], self.axis[0]])

    def direction(self, reference: str) -> np.ndarray:
        return {"left": -self.axis, "right": self.axis, "up": -self.down, "down": self.down}[reference]


def _outermost(outward: np.ndarray) -> np.ndarray:
    """Which of the values (pixels' reach in a direction) are in their top `END_SHARE`."""
    rank = min(int(len(outward) * (1 - END_SHARE)), len(outward) - 1)
    return outward >= np.partition(outward, rank)[rank]


@dataclass(frozen=True)
class Segment:
    pixels: np.ndarray  # (n, 2) x, y of the part's pixels in its main blob
    purity: float  # share of the part's pixels in that blob

    @property
    def area(self) -> float:
        return float(len(self.pixels))

    @cached_property
    def centre(self) -> np.ndarray:
        return self.pixels.mean(axis=0)

    @cached_property
    def offsets(self) -> np.ndarray:
        return self.pixels - self.centre

    @cached_property
    def covariance(self) -> np.ndarray:
        """The pixels' 2x2 second moments about the centroid, from which any axis's spread follows."""
        return self.offsets.T @ self.offsets / len(self.offsets)

    def end(self, direction: np.ndarray) -> np.ndarray:
        """The mean of the segment's outermost `END_SHARE` of pixels towards unit `direction`."""
        return self.pixels[_outermost(self.offsets @ direction)].mean(axis=0)

    def midline_end(self, direction: np.ndarray, frame: FaceFrame) -> np.ndarray:
        """Where the segment ends towards `direction` (up or down) on the line through its centroid: the
        mean reach of its outermost pixels within `MIDLINE_HALF_WIDTH` of that line. The point stays on the
        line, since the outermost pixels of an upper lip are the peaks either side of its midline dip."""
        near = np.abs(self.offsets @ frame.axis) <= MIDLINE_HALF_WIDTH * frame.inter_ocular
        outward = self.offsets[near] @ direction
        if not len(outward):
            return self.end(direction)
        return self.centre + outward[_outermost(outward)].mean() * direction

    def reference(self, keypoint: Keypoint, frame: FaceFrame) -> np.ndarray:
        """The keypoint's reference point on this segment (label pixels), before its offsets: the centroid,
        a side's end, or the top's or bottom's end on the midline."""
        if keypoint.reference == "centre":
            return self.centre
        direction = frame.direction(keypoint.reference)
        if keypoint.reference in ("up", "down"):
            return self.midline_end(direction, frame)
        return self.end(direction)

    def spread(self, frame: FaceFrame) -> float:
        """The standard deviation of the segment's pixels along the eye axis, in inter-ocular distances."""
        return math.sqrt(frame.axis @ self.covariance @ frame.axis) / frame.inter_ocular

    def point(self, keypoint: Keypoint, frame: FaceFrame) -> np.ndarray:
        along = keypoint.along + keypoint.lean * frame.turn
        if keypoint.stretch:
            along += keypoint.stretch * self.spread(frame)
        return self.reference(keypoint, frame) + frame.inter_ocular * (
            along * frame.axis + keypoint.down * frame.down
        )


# Label value -> is one of the part's classes (a lookup table, cheaper than np.isin); "any" for all parts.
_MEMBERS = {
    part: np.isin(np.arange(256), classes)
    for part, classes in ({"any": sum(PART_CLASSES.values(), ())} | PART_CLASSES).items()
}


def segments_of(labels: np.ndarray) -> dict[str, Segment | None]:
    """Each part's largest blob (other blobs of its classes are parsing noise, a nose label on a collar
    say), or None when its classes are absent. Blobs are labelled within the part's bounding box, which
    gives the blobs of the whole map at a fraction of the cost; the parts are looked for within the box
    that holds them all, a fraction of the crop."""
    segments: dict[str, Segment | None] = dict.fromkeys(PART_CLASSES)
    left, top, width, height = cv2.boundingRect(_MEMBERS["any"][labels].view(np.uint8))
    parts = labels[top : top + height, left : left + width]
    for part in PART_CLASSES:
        mask = _MEMBERS[part][parts].view(np.uint8)
        x, y, width, height = cv2.boundingRect(mask)
        if width == 0:
            continue
        _, blobs, stats, _ = cv2.connectedComponentsWithStats(
            mask[y : y + height, x : x + width], connectivity=8
        )
        areas = stats[1:, cv2.CC_STAT_AREA]
        rows, cols = np.nonzero(blobs == 1 + np.argmax(areas))
        pixels = np.stack([cols + left + x, rows + top + y], axis=1).astype(np.float64)
        segments[part] = Segment(pixels, float(len(pixels) / areas.sum()))
    return segments


def face_frame(segments: dict[str, Segment | None], inter_ocular_guess: float) -> FaceFrame:
    """The face's frame from its eye and nose segments; the horizontal and `inter_ocular_guess` (label
    pixels), unturned, when an eye is missing or a mere speck."""
    eyes, nose = (segments["left_eye"], segments["right_eye"]), segments["nose"]
    lowest_eye = PLAUSIBLE_AREA["left_eye"][0] / 2 * inter_ocular_guess**2
    if all(eye is not None and eye.area >= lowest_eye for eye in eyes):
        between = eyes[1].centre - eyes[0].centre
        distance = float(np.linalg.norm(between))
        if distance > 0:
            axis = between / distance
            if nose is None:
                return FaceFrame(axis, distance)
            middle = (eyes[0].centre + eyes[1].centre) / 2
            return FaceFrame(axis, distance, float((nose.centre - middle) @ axis / distance))
    return FaceFrame(np.array([1.0, 0.0]), inter_ocular_guess)  # faces reach the parser upright


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
    segments = segments_of(labels)
    pixel_size = math.sqrt(
        abs(np.linalg.det(np.asarray(to_image, np.float64)[:, :2]))
    )  # image px per label px
    frame = face_frame(segments, EYES_PER_BOX_WIDTH * box_width / pixel_size)
    inter_ocular = frame.inter_ocular

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
        for name, keypoint in KEYPOINTS.items():
            if keypoint.part == part:
                local[name] = segment.point(keypoint, frame)
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
            for point, keypoint in KEYPOINTS.items():
                if keypoint.part == part and point in confidence:
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
    "left_eye_center": (0.2174, 0.1922),
    "left_eye_outer": (0.1023, 0.2033),
    "left_eye_inner": (0.3279, 0.2111),
    "right_eye_center": (0.7436, 0.1950),
    "right_eye_inner": (0.6341, 0.2113),
    "right_eye_outer": (0.8580, 0.2049),
    "nose_tip": (0.4884, 0.5042),
    "nose_base": (0.4845, 0.6030),
    "left_mouth_corner": (0.2485, 0.7753),
    "right_mouth_corner": (0.7154, 0.7744),
    "mouth_center": (0.4872, 0.8200),
}
# The detector box's corners in the same frame (same fit): the alignment of a face whose parts cannot
# align it, an eye and the nose hidden say. It is looser (its spread is five times the eyes') but keeps the
# face's code usable while the face is reported occluded.
BOX_TEMPLATE: dict[str, Point] = {"box_top_left": (-0.1778, -0.2600), "box_bottom_right": (1.0579, 1.0361)}
# Mask points align a face when at least this many confident ones, from at least two parts, are known.
MIN_ALIGNMENT_POINTS = 3


def _parts_of(names: Iterable[str]) -> set[str]:
    return {KEYPOINTS[name].part for name in names}


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
