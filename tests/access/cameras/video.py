"""Real video for the camera tests (from the shared face data), and a reader that plays a list of frames."""

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from access.cameras.stream.reader import Frame
from tests.facedata import FACEDATA

VIDEO = FACEDATA / "video"
WALKING = VIDEO / "facenet_pytorch_video.mp4"  # people walking toward the camera, 105 frames at 25 fps
TALKING_HEAD = VIDEO / "WDA_KatieHill_000.mp4"  # one frontal talking head, 512x512
SHOP = VIDEO / "faceapi_test_video.mp4"  # 5 frames of a shop scene, 820x460


def require_video(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real video not found at {path} (set FACEGATE_FACEDATA to the facedata folder)")
    return path


def video_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(require_video(path)))
    frames = []
    while limit is None or len(frames) < limit:
        ok, pixels = capture.read()
        if not ok:
            break
        frames.append(pixels)
    capture.release()
    return frames


class ListReader:
    """A finite camera: plays the given pixel arrays once, `frame_gap_s` apart in capture time."""

    def __init__(self, pixels: list[np.ndarray | None], frame_gap_s: float = 0.04) -> None:
        self.pixels, self.frame_gap_s = pixels, frame_gap_s
        self.finished = False
        self._next = 0
        self.started_at = time.time()

    def open(self) -> None:
        self._next, self.finished = 0, False

    def read(self) -> Frame | None:
        if self._next == len(self.pixels):
            self.finished = True
            return None
        frame = Frame(self.pixels[self._next], self.started_at + self._next * self.frame_gap_s)
        self._next += 1
        return frame

    def close(self) -> None:
        pass


def wait_until(condition: Callable[[], bool], timeout_s: float = 60, what: str = "the condition") -> None:
    """Poll until `condition` holds; fail (rather than hang) if it never does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.05)
