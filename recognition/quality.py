"""Enrollment quality: whether a photo's faces make a usable enrollment sample, and if not, why.

Plain functions of analysed faces (box, score, keypoints, chip, visibility): exactly one face, large enough,
sharp enough, frontal enough and not occluded (the face parser's verdicts: eyes behind sunglasses, nose and
mouth behind a mask, the face partly out of the frame). Each failed check gives a reason the person taking
the photo can act on, and the figures are returned either way so that they are stored on the sample. The
thresholds, and how they were measured on real photos, are in `recognition.config.QualityConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from recognition.config import QualityConfig
from recognition.types import Face, Point

if TYPE_CHECKING:
    from recognition.gallery import Gallery, Match

__all__ = ["QualityVerdict", "assess", "conflicting_person", "face_figures", "roll", "sharpness", "yaw"]

# How far the base of the nose sits in front of the eyes, over half the distance between the eye centres:
# (6.06 - 3.47) / 3.15 in MediaPipe's canonical face model (landmark 2, and the midpoint of 33 and 133).
# A head turned by yaw moves the nose off the eyes' midpoint by this ratio times tan(yaw), in half eye
# distances; the estimate ignores pitch and perspective.
NOSE_DEPTH_RATIO = 0.82
# The chip's inner square holds the face (the chip adds `padding` = 0.25 of it on every side); sharpness is
# measured there so that a blurred background or a busy one does not count.
_FACE_SQUARE = slice(25, 125)


@dataclass(frozen=True)
class QualityVerdict:
    """The checks' outcome: figures measured (stored on the sample) and the reasons for rejection, if any."""

    figures: dict[str, float]
    reasons: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return not self.reasons

    @property
    def rejection_reason(self) -> str:
        return "; ".join(self.reasons)

    def rejected_for(self, reason: str) -> QualityVerdict:
        """This verdict with one more reason to reject."""
        return replace(self, reasons=(*self.reasons, reason))


def sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian of the grey face square of a 150x150 RGB chip: low when blurred."""
    grey = cv2.cvtColor(np.ascontiguousarray(chip[_FACE_SQUARE, _FACE_SQUARE]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _eye_centres(keypoints: Mapping[str, Point]) -> tuple[np.ndarray, np.ndarray]:
    centres = []
    for side in ("left", "right"):
        points = [xy for name, xy in keypoints.items() if name.startswith(f"{side}_eye_")]
        if not points:
            raise ValueError(f"pose needs {side} eye keypoints, got {sorted(keypoints)}")
        centres.append(np.mean(np.asarray(points, dtype=np.float64), axis=0))
    return centres[0], centres[1]


def roll(keypoints: Mapping[str, Point]) -> float:
    """Tilt of the eye line in degrees: positive when the image-right eye is lower (clockwise on screen)."""
    left, right = _eye_centres(keypoints)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def yaw(keypoints: Mapping[str, Point]) -> float:
    """Estimated head turn in degrees from where the nose base sits between the eyes: 0 when it is midway,
    positive when it is towards the image-right eye (the head turned to the image's right)."""
    if "nose_base" not in keypoints:
        raise ValueError(f"yaw needs the nose_base keypoint, got {sorted(keypoints)}")
    left, right = _eye_centres(keypoints)
    axis = right - left
    half_distance = np.linalg.norm(axis) / 2
    if half_distance == 0:
        raise ValueError("the eye centres coincide: no pose can be read from these keypoints")
    offset = np.dot(np.asarray(keypoints["nose_base"]) - (left + right) / 2, axis / (2 * half_distance))
    return math.degrees(math.atan(offset / half_distance / NOSE_DEPTH_RATIO))


def _has_eyes(keypoints: Mapping[str, Point]) -> bool:
    return all(any(name.startswith(f"{side}_eye_") for name in keypoints) for side in ("left", "right"))


def face_figures(face: Face) -> dict[str, float]:
    """The quality figures of one analysed face (box, score, keypoints and chip filled in). Roll needs both
    eyes and yaw the nose base too; an occluded face has neither. `occluded` (1 or 0) is there when the
    keypoint model judged visibility."""
    if face.chip is None or not face.keypoints:
        raise ValueError("the face needs keypoints and a chip: analyse it with the engine first")
    figures = {
        "face_size": float(min(face.width, face.height)),
        "sharpness": sharpness(face.chip),
        "detector_score": float(face.score),
    }
    if _has_eyes(face.keypoints) and not (face.visibility and face.visibility.occluded):
        figures["roll"] = roll(face.keypoints)
        if "nose_base" in face.keypoints:
            figures["yaw"] = yaw(face.keypoints)
    if face.visibility is not None:
        figures["occluded"] = float(face.visibility.occluded)
    return figures


def assess(faces: Sequence[Face], config: QualityConfig) -> QualityVerdict:
    """Whether `faces`, all the faces found in one photo, make a good enrollment sample."""
    if not faces:
        return QualityVerdict({"face_count": 0.0}, ("no face found",))
    if len(faces) > 1:
        reason = f"{len(faces)} faces found; enrollment photos must show one person"
        return QualityVerdict({"face_count": float(len(faces))}, (reason,))
    (face,) = faces
    figures = {"face_count": 1.0, **face_figures(face)}
    blurred = figures["sharpness"] < config.min_sharpness
    # a blurred face's parts cannot be judged: the blur is the reason then, not a part it seems to lack
    occlusions = face.visibility.occlusions if face.visibility and not blurred else ()
    reasons = [f"{part}: enrollment needs the whole face uncovered and in the frame" for part in occlusions]
    if not occlusions and not blurred and not {"yaw", "roll"} <= set(figures):
        reasons.append("the eyes and nose could not be located: look straight at the camera")
    if figures["face_size"] < config.min_face_size:
        reasons.append(
            f"the face is {figures['face_size']:.0f} px wide, enrollment needs at least "
            f"{config.min_face_size} px: come closer or use a larger photo"
        )
    if blurred:
        reasons.append(
            f"the face is blurred (sharpness {figures['sharpness']:.0f}, at least {config.min_sharpness:g} "
            "needed): hold the camera still and focus on the face"
        )
    if abs(figures.get("yaw", 0.0)) > config.max_yaw:
        reasons.append(
            f"the face is turned sideways (about {abs(figures['yaw']):.0f} degrees, at most "
            f"{config.max_yaw:g}): look straight at the camera"
        )
    if abs(figures.get("roll", 0.0)) > config.max_roll:
        reasons.append(
            f"the head is tilted ({abs(figures['roll']):.0f} degrees, at most {config.max_roll:g}): "
            "hold it upright"
        )
    return QualityVerdict(figures, tuple(reasons))


def conflicting_person(gallery: Gallery, code: np.ndarray, person_id: int, threshold: float) -> Match | None:
    """The closest other person whose samples come within `threshold` of `code`, or None.

    Enrolling a face that close to someone else would let either of them open the other's doors.
    """
    (identification,) = gallery.identify(np.asarray(code, np.float32)[np.newaxis], threshold)
    return next((match for match in identification.matches if match.person_id != person_id), None)
