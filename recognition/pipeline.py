"""From pixels to faces with codes: the one path every caller takes (InsightFace's FaceAnalysis shape).

`Engine` owns the face detector, the keypoint model and the face coder, loaded once per process
(`engine()`), and runs them in order: detect -> keypoints -> chip -> code, each step batched over every face
of every image it is given. The keypoint model is any object with `prepare(device)` and `get(img, face)`
filling `face.keypoints`; the chip is fitted on those of its points named in the model's `template` (where
they sit in dlib's chip), or in `recognition.align.TEMPLATE`, dlib's mean face, for a model without one.
The default, `recognition.keypoints.ParsingKeypoints`, derives the points from the face parser's segments
and also fills `face.parsing` and `face.visibility` (occlusion verdicts); it aligns faces as well as dlib's
5-point predictor, whose chips the face-code network was trained on (`bench.identify --alignments`: rank-1
95.38% against 95.53%, LFW pairs 99.16% against 99.02%). The 5-point predictor
(`recognition.models.landmarks.LandmarkPredictor`) stays the reference in tests and benches.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from recognition.align import TEMPLATE, face_chip
from recognition.config import EngineConfig
from recognition.cores import CoreTokens, host_folder
from recognition.keypoints import ParsingKeypoints

# The detector's own layout, pyramid, levels and decoding, so that areas find what the whole image finds.
from recognition.models.detector import (
    Decoding,
    FaceDetector,
    TiledPyramid,
    build_tiled_pyramid,
    decode_detections,
    detected_face,
    level_of,
    levels_for,
    tiled_pyramid,
    zone_on_level,
)
from recognition.models.facecode import CHIP_SIZE, FaceCoder
from recognition.quality import QualityVerdict, assess, conflicting_person
from recognition.types import Face, Point

if TYPE_CHECKING:
    from recognition.gallery import Gallery

__all__ = [
    "Engine",
    "Enrollment",
    "KeypointModel",
    "SearchArea",
    "detect_in_areas",
    "engine",
    "resolve_device",
]

# An enrollment photo with no face at full size is looked at doubled only up to this size: past it, a face
# under the detector's 80 px is a small part of the photo anyway, and the doubled pyramid of a 12 Mpx photo
# would take over a gigabyte.
ENROLLMENT_UPSAMPLE_MAX_PIXELS = 2_000_000
# Around a face seen in the last frame the detector searches the pyramid levels either side of the one it
# was found on: faces from 1/1.2 to 1.2 times as wide, far more than a face grows or shrinks between frames.
LEVELS_AROUND_FACE = 1


class KeypointModel(Protocol):
    """Fills `face.keypoints` (named, image pixels) for a detected face. A model whose points are not
    dlib's mean-face points also has a `template`: name -> where the point sits in the unit face square of
    dlib's chip (`recognition.align.chip_transform`)."""

    def prepare(self, device: str = "cpu") -> None: ...

    def get(self, img: np.ndarray, face: Face) -> dict[str, Point]: ...


@dataclass(frozen=True)
class Enrollment:
    """What an enrollment photo gave: its faces (with codes) and the quality verdict on them."""

    faces: list[Face]
    verdict: QualityVerdict

    @property
    def code(self) -> np.ndarray | None:
        """The face code to enroll, or None when the photo was rejected."""
        return self.faces[0].code if self.verdict.accepted else None


@dataclass(frozen=True)
class SearchArea:
    """Part of an image to look for faces in: x1, y1, x2, y2 in image pixels; and the width of the face seen
    there in the last frame, to search only the pyramid levels around that size (None: every level that can
    give a face no smaller than the minimum face size)."""

    box: tuple[float, float, float, float]
    face_width: float | None = None


@torch.inference_mode()
def detect_in_areas(
    detector: FaceDetector, image: np.ndarray, areas: Sequence[SearchArea], min_face_size: int | None = None
) -> list[Face]:
    """The faces the detector finds centred in `areas` of one RGB image, in image pixels, best first.

    The image's tiled pyramid is laid out as the detector lays it out, and the network runs only on the
    windows of it under the areas' searched levels, each widened by what its cells see and kept on the
    network's 8 px grid, all stacked into one image (the network costs much the same for any small input, so
    it runs once). Those cells score as in the whole image, and dlib's decoding and non-max suppression run
    on them as if the whole image had been searched, so a face inside an area gets the box and score the
    whole image gives it, and a face in two overlapping areas is found once.
    """
    height, width = image.shape[:2]
    decoding = detector.decoding
    if min(height, width) < min(decoding.window) or not areas:
        return []
    layout = tiled_pyramid(height, width, detector._padding, detector._outer_padding)
    first, last = levels_for(min_face_size, None)
    searched = range(first, min(last, len(layout.rects) - 1) + 1)
    kept_zones: list[tuple[int, int, int, int]] = []  # tiled pixels whose cells count: x1, y1, x2, y2
    for area in areas:
        levels: Sequence[int] = searched
        if area.face_width is not None:
            found_on = level_of(area.face_width)
            levels = [level for level in searched if abs(level - found_on) <= LEVELS_AROUND_FACE]
        for level in levels:
            zone = zone_on_level(area.box, layout.rects[level], level, decoding)
            if zone is not None:
                kept_zones.append(zone)
    if not kept_zones:
        return []
    windows = _merged_windows(kept_zones, layout, decoding)
    if windows == [(0, 0, layout.width, layout.height)]:
        # The areas need the whole tiled image (a large region: every level's part and the cells' context
        # cover it): the detector's own pass, keeping the faces centred in an area, is the same work.
        return [
            face
            for face in detector.detect(image, min_face_size=min_face_size)
            if any(_centred_in(face.box, area.box) for area in areas)
        ]
    stride = decoding.stride
    first_row = min(window[1] for window in windows)
    end_row = max(window[3] for window in windows)
    layout = replace(layout, rows=(first_row, end_row))  # build only the rows the windows take
    pixels = torch.tensor(image, device=detector.device).float().permute(2, 0, 1).unsqueeze(0)
    # The levels under the windows (their cells' context included) are all that is copied out.
    last_level = max(
        index
        for index, (left, top, right, bottom) in enumerate(layout.rects)
        if any(x1 <= right and left < x2 and y1 <= bottom and top < y2 for x1, y1, x2, y2 in windows)
    )
    tiled = build_tiled_pyramid(detector.normalised(pixels), layout, last_level=last_level)
    canvas_rows = [window[3] - window[1] for window in windows]
    canvas = tiled.new_zeros(1, sum(canvas_rows), max(window[2] - window[0] for window in windows), 3)
    canvas = canvas.permute(0, 3, 1, 2)  # channels-last, as the detector runs it
    starts = [sum(canvas_rows[:index]) for index in range(len(windows))]
    for (x1, y1, x2, y2), start in zip(windows, starts, strict=True):
        canvas[:, :, start : start + y2 - y1, : x2 - x1] = tiled[:, :, y1 - first_row : y2 - first_row, x1:x2]
    scores = detector.net(canvas)[0, 0].float().cpu().numpy()

    # The cells of the kept zones, put where they sit in the whole image's score map, for dlib's decoding.
    whole_scores = np.full((-(-layout.height // stride), -(-layout.width // stride)), -np.inf, np.float32)
    for (x1, y1, x2, y2), start in zip(windows, starts, strict=True):
        rows = slice(start // stride, min((start + y2 - y1) // stride, scores.shape[0]))
        cols = slice(0, min((x2 - x1) // stride, scores.shape[1]))
        piece = scores[rows, cols]
        target = whole_scores[
            y1 // stride : y1 // stride + piece.shape[0], x1 // stride : x1 // stride + piece.shape[1]
        ]
        centre_y = (np.arange(target.shape[0]) + y1 // stride) * stride + decoding.offset
        centre_x = (np.arange(target.shape[1]) + x1 // stride) * stride + decoding.offset
        counted = np.zeros(target.shape, bool)
        for zx1, zy1, zx2, zy2 in kept_zones:
            counted |= ((centre_y >= zy1) & (centre_y < zy2))[:, None] & (
                (centre_x >= zx1) & (centre_x < zx2)
            )[None, :]
        target[counted] = piece[: target.shape[0], : target.shape[1]][counted]
    whole_layout = replace(layout, rows=(0, layout.height))
    decoded = decode_detections(whole_scores, whole_layout, decoding)
    faces = [detected_face(box, score) for box, score in decoded]
    return [face for face in faces if not min_face_size or face.width >= min_face_size]


def _centred_in(box: Sequence[float], area: Sequence[float]) -> bool:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return area[0] <= x < area[2] and area[1] <= y < area[3]


def _merged_windows(
    zones: list[tuple[int, int, int, int]], layout: TiledPyramid, decoding: Decoding
) -> list[tuple[int, int, int, int]]:
    """The tiled-image windows the network runs on: each zone widened by what its cells see, started on the
    network's grid, and windows that overlap merged into one."""
    stride, context = decoding.stride, decoding.context
    windows = [
        (
            max(x1 - context, 0) // stride * stride,
            max(y1 - context, 0) // stride * stride,
            min(-(-(x2 + context) // stride) * stride, layout.width),
            min(-(-(y2 + context) // stride) * stride, layout.height),
        )
        for x1, y1, x2, y2 in zones
    ]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(windows)), 2):
            a, b = windows[i], windows[j]
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                windows[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                del windows[j]
                merged = True
                break
    return windows


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without one raises."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda'")
    return device


class Engine:
    """Faces, keypoints, chips and codes of RGB images: `analyse(image)` or `analyse_batch(images)`."""

    model_version = "dlib_face_recognition_resnet_model_v1"  # codes of other models are not comparable

    def __init__(self, config: EngineConfig | None = None, keypoints: KeypointModel | None = None):
        self.config = config if config is not None else EngineConfig.from_env()
        self.detector = FaceDetector()
        self.keypoints = keypoints if keypoints is not None else ParsingKeypoints()
        self.template: Mapping[str, Point] = getattr(self.keypoints, "template", TEMPLATE)
        self.coder = FaceCoder()
        self.prepare(self.config.device)

    def prepare(self, device: str = "auto") -> None:
        """Move every model to `device` ('auto', 'cpu' or 'cuda'), with the configured torch CPU threads; on
        the CPU, with the host's cores shared (`recognition.cores`) unless FACEGATE_SHARED_CORES is 0."""
        self.device = resolve_device(device)
        torch.set_num_threads(self.config.torch_threads)
        shared = self.device == "cpu" and self.config.shared_cores
        self.cores = CoreTokens(host_folder(), self.config.shared_cores) if shared else None
        for model in (self.detector, self.keypoints, self.coder):
            model.prepare(self.device)

    @contextmanager
    def task(self) -> Iterator[None]:
        """Hold this task's own cores while the block runs (waiting for them when the host's are all held),
        so that its model stages also borrow only cores that no other task holds."""
        if self.cores is None:
            yield
            return
        with self.cores.task(self.config.torch_threads):
            yield

    @contextmanager
    def _on_cores(self) -> Iterator[None]:
        """torch on every core the task holds and the idle ones it borrows, for one model stage (detect,
        parse or code); outside a task (tests, benches in one process), on the configured threads."""
        if self.cores is None:
            yield
            return
        with self.cores.borrowed() as cores:
            before, threads = torch.get_num_threads(), cores or self.config.torch_threads
            if threads != before:  # a stage inside another finds its threads set already
                torch.set_num_threads(threads)
            try:
                yield
            finally:
                if threads != before:
                    torch.set_num_threads(before)

    def detect_batch(
        self, images: Sequence[np.ndarray], min_face_size: int | None = None, upsample: int = 0
    ) -> list[list[Face]]:
        """Detected faces (box and score) of each (H, W, 3) uint8 RGB image, best first.

        min_face_size: no box narrower than this many pixels is returned, and the detector skips the pyramid
        levels that could only give such boxes (a face a little smaller may come out on a larger box).
        upsample: look at the images doubled this many times, to find faces under the detector's 80 px.
        """
        faces: list[list[Face]] = []
        with self._on_cores():
            for start in range(0, len(images), self.config.batch_size):
                chunk = images[start : start + self.config.batch_size]
                faces += self.detector.detect_batch(chunk, min_face_size=min_face_size, upsample=upsample)
        if min_face_size:
            faces = [[face for face in found if face.width >= min_face_size] for found in faces]
        return faces

    def analyse_batch(
        self, images: Sequence[np.ndarray], min_face_size: int | None = None, upsample: int = 0
    ) -> list[list[Face]]:
        """Every face of each image with box, score, keypoints, chip and code; see `detect_batch`."""
        faces = self.detect_batch(images, min_face_size, upsample)
        for image, found in zip(images, faces, strict=True):
            self._chips(image, found)
        self._code([face for found in faces for face in found])
        return faces

    def analyse_areas(
        self, image: np.ndarray, areas: Sequence[SearchArea], min_face_size: int | None = None
    ) -> list[Face]:
        """Every face centred in `areas` of one image (`detect_in_areas`) with box, score, keypoints, chip
        and code, best first."""
        with self._on_cores():
            faces = detect_in_areas(self.detector, image, areas, min_face_size)
        self._chips(image, faces)
        self._code(faces)
        return faces

    def analyse(self, image: np.ndarray, min_face_size: int | None = None, upsample: int = 0) -> list[Face]:
        """Every face of one image with box, score, keypoints, chip and code, best first."""
        return self.analyse_batch([image], min_face_size, upsample)[0]

    def analyse_enrollment(
        self, image: np.ndarray, gallery: Gallery | None = None, person_id: int | None = None
    ) -> Enrollment:
        """The faces of an enrollment photo and the quality verdict on them.

        When no face is found at full size a photo of up to 2 Mpx is looked at again doubled, so that a face
        too small to use is reported as too small rather than as missing. With a gallery, a face that comes
        within the match threshold of another person's samples is rejected too.
        """
        faces = self.analyse(image)
        if not faces and image.shape[0] * image.shape[1] <= ENROLLMENT_UPSAMPLE_MAX_PIXELS:
            faces = self.analyse(image, upsample=1)
        verdict = assess(faces, self.config.quality)
        if verdict.accepted and gallery is not None:
            if person_id is None:
                raise ValueError("checking against the gallery needs the person_id being enrolled")
            reason = self.conflict_reason(gallery, faces[0].code, person_id)
            if reason:
                verdict = verdict.rejected_for(reason)
        return Enrollment(faces, verdict)

    def conflict_reason(self, gallery: Gallery, code: np.ndarray, person_id: int) -> str:
        """Why `code` cannot be enrolled for `person_id`: it could be taken for someone else; "" if it can."""
        match = conflicting_person(gallery, code, person_id, self.config.match_threshold)
        if match is None:
            return ""
        return (
            f"the face is {match.distance:.2f} from person {match.person_id}'s samples, within the "
            f"match threshold {self.config.match_threshold:.2f}: it could be taken for that person"
        )

    def _chips(self, image: np.ndarray, faces: list[Face]) -> None:
        with self._on_cores():
            for face in faces:
                self.keypoints.get(image, face)
                aligning = {name: xy for name, xy in face.keypoints.items() if name in self.template}
                face.chip = face_chip(image, aligning, size=CHIP_SIZE, template=self.template)

    def _code(self, faces: list[Face]) -> None:
        with self._on_cores():
            for start in range(0, len(faces), self.config.batch_size):
                chunk = faces[start : start + self.config.batch_size]
                codes = self.coder.get_batch(np.stack([face.chip for face in chunk]))
                for face, code in zip(chunk, codes, strict=True):
                    face.code = code


_engine: Engine | None = None
_engine_lock = threading.Lock()


def engine() -> Engine:
    """The process's engine, built from the environment on first use (one per Celery worker process)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
