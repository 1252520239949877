"""What the pipeline saw on an enrollment photo, kept with the sample so that showing it never reruns the
networks: each face's box, keypoints (with the parser's confidences), parsing and aligned chip.

It is stored as one encrypted file per sample (`FaceSample.overlay`): a compressed NumPy archive read with
`allow_pickle=False`, so a stored file can hold arrays and text but never code. Drawing it over the photo is
a plain function of the stored values (`render_overlay`).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import cv2
import numpy as np

from recognition.types import CLASSES, Face, Parsing, Point

__all__ = [
    "PARSING_COLOURS",
    "FaceOverlay",
    "OverlayError",
    "drawing_jpeg",
    "overlay_bytes",
    "png",
    "read_overlay",
    "render_overlay",
    "shown_region",
]

# One colour per parser class (RGB), background left unpainted; the page's legend is drawn from this.
PARSING_COLOURS: dict[str, tuple[int, int, int]] = {
    "skin": (240, 190, 140),
    "left_brow": (140, 80, 20),
    "right_brow": (200, 120, 40),
    "left_eye": (30, 110, 255),
    "right_eye": (0, 200, 255),
    "nose": (60, 200, 60),
    "upper_lip": (230, 40, 90),
    "inner_mouth": (120, 0, 60),
    "lower_lip": (255, 110, 170),
    "hair": (150, 60, 200),
}
MASK_OPACITY = 0.5
# A keypoint at least this sure is drawn green, a less sure one amber; points without a confidence (a
# keypoint model that does not judge them) white.
SURE_KEYPOINT = 0.5
BOX_COLOUR = (255, 230, 0)
SURE_COLOUR, UNSURE_COLOUR, UNJUDGED_COLOUR = (40, 220, 80), (255, 160, 0), (255, 255, 255)
# The drawing shows the faces with this much of their box's size around them, at least RENDER_WIDTH wide.
CONTEXT = 0.6
RENDER_WIDTH = 480
# The drawing goes to the page as a JPEG: a fifth of the PNG's bytes. Full-resolution colour (4:4:4, no
# chroma subsampling) keeps the thin coloured lines and dots as sharp as in the PNG.
DRAWING_JPEG_QUALITY = 90


class OverlayError(ValueError):
    """A stored overlay that cannot be read back (altered, or written by something else)."""


@dataclass(frozen=True)
class FaceOverlay:
    """One face as the pipeline saw it, in the photo's pixels (upright, as its EXIF tag says)."""

    box: tuple[float, float, float, float]
    keypoints: dict[str, Point]
    confidence: dict[str, float]  # keypoint name -> 0..1, when the keypoint model judged them
    occlusions: tuple[str, ...]
    chip: np.ndarray  # the aligned 150x150x3 RGB chip the face code was computed from
    parsing: Parsing | None  # None when the engine ran without the face parser

    @classmethod
    def of(cls, face: Face) -> "FaceOverlay":
        if face.chip is None:
            raise ValueError("the face has no chip: analyse it with the engine first")
        visibility = face.visibility
        return cls(
            box=tuple(float(edge) for edge in face.box),
            keypoints={name: (float(x), float(y)) for name, (x, y) in face.keypoints.items()},
            confidence=dict(visibility.confidence) if visibility else {},
            occlusions=tuple(visibility.occlusions) if visibility else (),
            chip=np.ascontiguousarray(face.chip, dtype=np.uint8),
            parsing=face.parsing,
        )


def overlay_bytes(faces: Sequence[Face]) -> bytes:
    """The faces of one photo as the bytes of an overlay file."""
    overlays = [FaceOverlay.of(face) for face in faces]
    arrays: dict[str, np.ndarray] = {}
    described = []
    for index, overlay in enumerate(overlays):
        arrays[f"chip_{index}"] = overlay.chip
        if overlay.parsing is not None:
            arrays[f"labels_{index}"] = np.ascontiguousarray(overlay.parsing.labels, dtype=np.uint8)
            arrays[f"crop_to_image_{index}"] = np.asarray(overlay.parsing.crop_to_image, dtype=np.float64)
        described.append(
            {
                "box": overlay.box,
                "keypoints": overlay.keypoints,
                "confidence": overlay.confidence,
                "occlusions": overlay.occlusions,
            }
        )
    out = BytesIO()
    np.savez_compressed(out, faces=np.array(json.dumps(described)), **arrays)
    return out.getvalue()


def read_overlay(data: bytes) -> list[FaceOverlay]:
    """The faces an overlay file holds; OverlayError when it is not one."""
    try:
        with np.load(BytesIO(data), allow_pickle=False) as archive:
            described = json.loads(str(archive["faces"]))
            return [_face_from(archive, index, face) for index, face in enumerate(described)]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OverlayError(f"the stored overlay cannot be read ({exc})") from exc


def _face_from(archive, index: int, described: dict) -> FaceOverlay:
    parsing = None
    if f"labels_{index}" in archive:
        parsing = Parsing(archive[f"labels_{index}"], archive[f"crop_to_image_{index}"])
    return FaceOverlay(
        box=tuple(described["box"]),
        keypoints={name: tuple(point) for name, point in described["keypoints"].items()},
        confidence=described["confidence"],
        occlusions=tuple(described["occlusions"]),
        chip=archive[f"chip_{index}"],
        parsing=parsing,
    )


def render_overlay(pixels: np.ndarray, faces: Sequence[FaceOverlay]) -> np.ndarray:
    """The photo (HxWx3 RGB) around its faces, each with its parsing painted in PARSING_COLOURS, its box and
    its keypoints (green when sure, amber when not), scaled to at least RENDER_WIDTH pixels wide."""
    drawn = pixels.copy()
    for face in faces:
        if face.parsing is not None:
            _paint_parsing(drawn, face.parsing)
    left, top, right, bottom = shown_region(pixels.shape, faces)
    drawn = np.ascontiguousarray(drawn[top:bottom, left:right])
    scale = max(1.0, RENDER_WIDTH / drawn.shape[1])
    drawn = cv2.resize(drawn, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    line = max(2, round(drawn.shape[1] / 240))
    for face in faces:
        x1, y1, x2, y2 = ((np.array(face.box) - (left, top, left, top)) * scale).round().astype(int)
        cv2.rectangle(drawn, (x1, y1), (x2, y2), BOX_COLOUR, line, cv2.LINE_AA)
        for name, (x, y) in face.keypoints.items():
            centre = (round((x - left) * scale), round((y - top) * scale))
            colour = _keypoint_colour(face.confidence.get(name))
            cv2.circle(drawn, centre, line + 2, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(drawn, centre, line + 1, colour, -1, cv2.LINE_AA)
    return drawn


def _paint_parsing(image: np.ndarray, parsing: Parsing) -> None:
    labels = parsing.to_image(image.shape)
    for name, colour in PARSING_COLOURS.items():
        where = labels == CLASSES.index(name)
        image[where] = (image[where] * (1 - MASK_OPACITY) + np.array(colour) * MASK_OPACITY).astype(np.uint8)


def shown_region(shape: tuple[int, ...], faces: Sequence[FaceOverlay]) -> tuple[int, int, int, int]:
    """The part of the photo to show: the faces' boxes and CONTEXT around them, within the photo."""
    height, width = shape[:2]
    if not faces:
        return 0, 0, width, height
    boxes = np.array([face.box for face in faces])
    x1, y1 = boxes[:, :2].min(axis=0)
    x2, y2 = boxes[:, 2:].max(axis=0)
    margin = CONTEXT * max(x2 - x1, y2 - y1)
    return (
        int(max(0, x1 - margin)),
        int(max(0, y1 - margin)),
        int(min(width, x2 + margin)),
        int(min(height, y2 + margin)),
    )


def _keypoint_colour(confidence: float | None) -> tuple[int, int, int]:
    if confidence is None:
        return UNJUDGED_COLOUR
    return SURE_COLOUR if confidence >= SURE_KEYPOINT else UNSURE_COLOUR


def png(pixels: np.ndarray) -> bytes:
    """An RGB image as PNG bytes: lossless, for the aligned chips the face code was computed from."""
    return _encoded(".png", pixels, [])


def drawing_jpeg(pixels: np.ndarray) -> bytes:
    """A drawing (`render_overlay`) as JPEG bytes, in full-resolution colour."""
    settings = [
        cv2.IMWRITE_JPEG_QUALITY, DRAWING_JPEG_QUALITY,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ]
    return _encoded(".jpg", pixels, settings)


def _encoded(extension: str, pixels: np.ndarray, settings: list[int]) -> bytes:
    ok, encoded = cv2.imencode(extension, cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), settings)
    if not ok:
        raise ValueError(f"the image could not be encoded as {extension}")
    return encoded.tobytes()
