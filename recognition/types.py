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
    """One face's labels in crop coordinates, the 2x3 affine mapping crop pixels to image pixels and, from the
    parser, each class's score (logit) per crop pixel."""

    labels: np.ndarray  # (CROP_SIZE, CROP_SIZE) uint8, values index CLASSES
    crop_to_image: np.ndarray  # (2, 3) float64
    scores: np.ndarray | None = None  # (CROP_SIZE, CROP_SIZE, len(CLASSES)) float32; not in stored overlays

    def to_image(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """The labels on an image of `image_shape`; outside the crop is background (0).

        A crop pixel spans several image pixels, so with the scores each class's score is interpolated
        bilinearly and the best class taken, which places a boundary between crop pixels where nearest
        labels would draw it as a staircase; without them, the labels are resampled by nearest.
        """
        size = image_shape[1], image_shape[0]

        def nearest(crop: np.ndarray) -> np.ndarray:
            return cv2.warpAffine(
                crop, self.crop_to_image, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )  # fmt: skip

        if self.scores is None:
            return nearest(self.labels)
        scores = cv2.warpAffine(
            self.scores, self.crop_to_image, size, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        return np.where(nearest(np.ones_like(self.labels)) == 1, scores.argmax(axis=2), 0).astype(np.uint8)


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
