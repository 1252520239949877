"""The cheap first gate: is anything moving? A tiny grey copy of each frame is compared with the last one.

Recognition costs far more than this test, so an idle camera costs little; a frame passes anyway every
`keyframe_interval_s`, so a person standing still in front of the door is still seen.
"""

import cv2
import numpy as np

GATE_WIDTH = 64  # pixels across the grey copy; enough to see a person move, small enough to cost nothing


class MotionGate:
    def __init__(
        self,
        *,
        pixel_change: int = 20,
        changed_fraction: float = 0.01,
        keyframe_interval_s: float = 1.0,
    ) -> None:
        """A pixel of the grey copy has changed when it moved by more than `pixel_change` grey levels;
        motion is more than `changed_fraction` of the pixels changing."""
        self.pixel_change = pixel_change
        self.changed_fraction = changed_fraction
        self.keyframe_interval_s = keyframe_interval_s
        self._previous: np.ndarray | None = None
        self._last_passed_at: float | None = None

    def passes(self, pixels: np.ndarray, at: float) -> bool:
        """Whether this frame, taken at Unix time `at`, goes on to recognition."""
        grey = _small_grey(pixels)
        moved = (
            self._previous is None
            or self._previous.shape != grey.shape  # the stream came back at another resolution
            or self.motion(self._previous, grey) > self.changed_fraction
        )
        self._previous = grey
        due = self._last_passed_at is None or at - self._last_passed_at >= self.keyframe_interval_s
        if moved or due:
            self._last_passed_at = at
            return True
        return False

    def motion(self, before: np.ndarray, after: np.ndarray) -> float:
        """The fraction of the grey copy's pixels that changed between two grey copies."""
        return float(np.count_nonzero(cv2.absdiff(before, after) > self.pixel_change)) / after.size


def _small_grey(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    # Averaging every pixel of a large frame costs more than the rest of the gate; a regular subsample down
    # to about four times the gate's width keeps what matters (a person moving) at a fraction of the cost.
    step = max(1, width // (GATE_WIDTH * 4))
    subsampled = np.ascontiguousarray(pixels[::step, ::step])
    size = (GATE_WIDTH, max(1, round(height * GATE_WIDTH / width)))
    grey = cv2.cvtColor(cv2.resize(subsampled, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    # Sensor noise and JPEG blocking flicker single pixels; a blur keeps them from reading as motion.
    return cv2.GaussianBlur(grey, (5, 5), 0)
