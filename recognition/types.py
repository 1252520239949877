"""The values that flow through the pipeline, shared by every model wrapper."""

from dataclasses import dataclass, field

import numpy as np

Point = tuple[float, float]


@dataclass
class Face:
    """One face in one image; each model fills in its own field (InsightFace's `Face` pattern)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float  # detector confidence
    keypoints: dict[str, Point] = field(default_factory=dict)  # named, image pixels, image-left = "left"
    chip: np.ndarray | None = None  # aligned 150x150x3 RGB uint8
    code: np.ndarray | None = None  # (128,) float32 face code

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]
