"""The demo clip: two freely licensed portraits walking up to a door camera in turn, in a loop.

Both photos ship with scikit-image (BSD-3), so nothing is downloaded and nothing of ours is committed:
- `astronaut`: Eileen Collins, NASA portrait, public domain ("No known copyright restrictions, released into
  the public domain", skimage.data.astronaut). The demo enrolls her: she is granted.
- `camera`: the cameraman, photographed by Lav Varshney, CC0 ("No copyright restrictions. CC0 by the
  photographer", skimage.data.camera). Not enrolled: he is denied.

Each portrait is cut around its face (the boxes below are where the engine finds the face in scikit-image's
image) and grows and drifts across a plain corridor background, so every frame differs from the last (the
camera service's motion gate) while the face moves little between frames (tracking by box overlap). Empty
corridor between them ends one passage before the next begins.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
FPS = 10
# Seconds: empty corridor, the enrolled person walking up, empty, the stranger walking up, empty.
TIMELINE = (("empty", 1.0), ("enrolled", 5.0), ("empty", 3.0), ("stranger", 5.0), ("empty", 3.0))
# How tall the portrait is on screen at the start and end of its walk, and where its centre drifts.
START_HEIGHT, END_HEIGHT = 330, 420
START_X, END_X = 280, 360
FOURCC = "mp4v"  # MPEG-4 part 2: written and read by the FFmpeg inside opencv-python-headless


@dataclass(frozen=True)
class Portrait:
    """A photo and the square around its face to cut out (x, y, side), in the photo's pixels."""

    pixels: np.ndarray  # H x W x 3 uint8 RGB
    crop: tuple[int, int, int]

    def cut(self) -> np.ndarray:
        x, y, side = self.crop
        return self.pixels[y : y + side, x : x + side]


def demo_portraits() -> dict[str, Portrait]:
    """The enrolled person's photo and the stranger's, from scikit-image's bundled sample data."""
    from skimage import data

    # The engine finds the astronaut's face at (168, 69)-(264, 165) and the cameraman's at
    # (180, 116)-(260, 196): each crop is 2.5 face widths around the face, kept inside the photo.
    cameraman = np.repeat(data.camera()[:, :, np.newaxis], 3, axis=2)  # grey -> RGB
    return {
        "enrolled": Portrait(data.astronaut(), crop=(96, 0, 240)),
        "stranger": Portrait(cameraman, crop=(120, 56, 200)),
    }


def clip_frames(portraits: dict[str, Portrait]) -> list[np.ndarray]:
    """Every frame of one loop of the clip, as H x W x 3 uint8 BGR (what OpenCV writes)."""
    background = _corridor()
    frames = []
    for part, seconds in TIMELINE:
        count = round(seconds * FPS)
        for index in range(count):
            frame = background.copy()
            if part != "empty":
                _place(frame, portraits[part].cut(), progress=index / max(count - 1, 1))
            frames.append(frame)
    return frames


def segment_frames(part: str) -> range:
    """The indices of the frames of the first TIMELINE segment named `part`."""
    start = 0
    for name, seconds in TIMELINE:
        count = round(seconds * FPS)
        if name == part:
            return range(start, start + count)
        start += count
    raise KeyError(part)


def write_clip(path: Path, portraits: dict[str, Portrait] | None = None) -> Path:
    """Write the clip to `path` (MPEG-4), through a temporary file so a reader never sees half of it."""
    frames = clip_frames(portraits or demo_portraits())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*FOURCC), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {FOURCC} video to {partial}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    partial.replace(path)
    return path


def _corridor() -> np.ndarray:
    """A plain grey wall over a darker floor: no edges that could pass for a face."""
    rows = np.linspace(150, 110, HEIGHT, dtype=np.float32)[:, np.newaxis]
    wall = np.repeat(rows, WIDTH, axis=1)
    wall[int(HEIGHT * 0.8) :] *= 0.6
    return np.repeat(wall[:, :, np.newaxis], 3, axis=2).astype(np.uint8)


def _place(frame: np.ndarray, portrait_rgb: np.ndarray, progress: float) -> None:
    """Draw the portrait into the frame, grown and drifted `progress` (0..1) of the way through its walk."""
    side = round(START_HEIGHT + (END_HEIGHT - START_HEIGHT) * progress)
    centre_x = round(START_X + (END_X - START_X) * progress)
    grown = cv2.resize(portrait_rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    tile = cv2.cvtColor(grown, cv2.COLOR_RGB2BGR)
    left, top = centre_x - side // 2, HEIGHT - side
    frame[top : top + side, left : left + side] = tile
