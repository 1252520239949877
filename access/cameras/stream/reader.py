"""Capture: frames out of a camera source through OpenCV, each with the time it was taken.

Kept apart from gating and sending (loop.py), so the loop can be driven by any reader with this interface.
"""

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from access.cameras.sources import Source, SourceKind, redacted

logger = logging.getLogger(__name__)

# How long OpenCV's FFmpeg backend may wait for a stream to open or for its next frame before giving up:
# a camera that hangs is then reconnected instead of silently freezing the service.
STREAM_TIMEOUT_MS = 5000


class SourceUnavailable(Exception):
    """The source could not be opened (camera down, file missing, device absent)."""


@dataclass(frozen=True)
class Frame:
    pixels: np.ndarray  # HxWx3 uint8 BGR, as OpenCV decodes
    captured_at: float  # Unix time


class FrameReader(Protocol):
    """What the capture loop reads from. `read()` gives None when the source broke or ended; `finished` then
    tells an end that is final (a video file played once) from a break worth reconnecting."""

    finished: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class OpenCVReader:
    """Any camera source OpenCV opens. A video file plays at its own frame rate (`paced`), as a camera would
    deliver it, and starts again at its end when it loops."""

    def __init__(self, source: Source, *, loop: bool = False, paced: bool | None = None) -> None:
        self.source = source
        self.loop = loop
        self.paced = source.kind is SourceKind.FILE if paced is None else paced
        self.finished = False
        self._capture: cv2.VideoCapture | None = None
        self._clip_started_at = 0.0  # Unix time of the current play-through's first frame
        self._clip_end_s = 0.0  # media time of the last frame read, to start the next play-through after it

    def open(self) -> None:
        self.close()
        self.finished = False
        self._capture = self._open_capture()
        self._clip_started_at = time.time()
        self._clip_end_s = 0.0

    def _open_capture(self) -> cv2.VideoCapture:
        if self.source.kind is SourceKind.DEVICE:
            capture = cv2.VideoCapture(self.source.target)
        else:
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                        STREAM_TIMEOUT_MS]
            capture = cv2.VideoCapture(self.source.target, cv2.CAP_FFMPEG, timeouts)
        if not capture.isOpened():
            capture.release()
            raise SourceUnavailable(f"OpenCV could not open {self.describe()}.")
        return capture

    def read(self) -> Frame | None:
        if self._capture is None:
            return None
        ok, pixels = self._capture.read()
        if ok and self.source.kind is SourceKind.FILE:
            return self._file_frame(pixels)
        if ok:
            return Frame(pixels, time.time())
        if self.source.kind is SourceKind.FILE:
            return self._after_the_last_frame()
        return None

    def _file_frame(self, pixels: np.ndarray) -> Frame:
        media_s = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        self._clip_end_s = media_s
        due = self._clip_started_at + media_s
        if self.paced and (wait := due - time.time()) > 0:
            time.sleep(wait)
        return Frame(pixels, due)

    def _after_the_last_frame(self) -> Frame | None:
        if not self.loop:
            self.finished = True
            return None
        # Reopened rather than rewound, so a clip replaced or removed on disk is noticed.
        frame_gap_s = 1 / (self._capture.get(cv2.CAP_PROP_FPS) or 25)
        next_start = self._clip_started_at + self._clip_end_s + frame_gap_s
        self.close()
        self._capture = self._open_capture()
        self._clip_started_at, self._clip_end_s = next_start, 0.0
        ok, pixels = self._capture.read()
        return self._file_frame(pixels) if ok else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def describe(self) -> str:
        if self.source.kind is SourceKind.DEVICE:
            return f"device {self.source.target}"
        return redacted(str(self.source.target))
