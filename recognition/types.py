"""The values that flow through the pipeline, shared by every model wrapper."""

from dataclasses import dataclass, field

import cv2
import numpy as np

Point = tuple[float, float]

# The face parser's pixel classes (LaPa / Helen scheme, image-left = left), indexed by `Parsing.labels`.
CLASSES = (
    "background", "skin", "left_brow", "right_brow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
)  # fmt: skip


@dataclass
class Parsing:
    """One face's labels in crop coordinates, and the 2x3 affine mapping crop pixels to image pixels."""

    labels: np.ndarray  # (CROP_SIZE, CROP_SIZE) uint8, values index CLASSES
    crop_to_image: np.ndarray  # (2, 3) float64

    def to_image(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """The labels resampled onto an image of `image_shape` (nearest); outside the crop is background."""
        height, width = image_shape[:2]
        return cv2.warpAffine(
            self.labels, self.crop_to_image, (width, height), flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip


@dataclass(frozen=True)
class Visibility:
    """What a face's parsing shows of it: which parts are visible, how sure each keypoint is, and why the
    face counts as occluded (an eye, the nose or the mouth covered, the face partly out of frame)."""

    parts: dict[str, bool]  # part name -> a plausible segment of it was found
    confidence: dict[str, float]  # keypoint name -> 0..1
    occlusions: tuple[str, ...] = ()  # one sentence each, empty when the face is fully visible

    @property
    def occluded(self) -> bool:
        return bool(self.occlusions)


@dataclass
class Face:
    """One face in one image; each model fills in its own field (InsightFace's `Face` pattern)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float  # detector confidence
    keypoints: dict[str, Point] = field(default_factory=dict)  # named, image pixels, image-left = "left"
    chip: np.ndarray | None = None  # aligned 150x150x3 RGB uint8
    code: np.ndarray | None = None  # (128,) float32 face code
    parsing: Parsing | None = None  # per-pixel classes from the face parser
    visibility: Visibility | None = None  # from the parsing: keypoint confidences and occlusion verdicts

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]
